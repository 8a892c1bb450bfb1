using Compression.Core.Settings;

namespace Compression.Core.Evaluation;

/// <summary>The options of validation: the samples the compressed model is compared on, and the gates it must pass.</summary>
public static class EvaluationSettings
{
    /// <summary>The technique's name in the README and the report.</summary>
    public const string Technique = "Validation";

    /// <summary>A gate that is missed fails the build.</summary>
    public const string GateError = "error";

    /// <summary>A gate that is missed is a warning, and the compressed model is written.</summary>
    public const string GateWarn = "warn";

    /// <summary>Whether the compressed model is compared with the original in ONNX Runtime.</summary>
    public static BooleanSetting Validate { get; } = new(
        "Validate", Technique, SettingScope.Model, true,
        "Compare the compressed model with the original in ONNX Runtime. `false` skips it with warning OCB0200; ONNX Runtime is then not needed.");

    /// <summary>Samples to validate on, instead of synthesized ones.</summary>
    public static PathSetting ValidationData { get; } = new(
        "ValidationData", Technique, isFolder: true,
        "A folder of samples to validate on instead of synthesized inputs: TensorProto files (`input_K.pb` or named after the inputs, one sample per subfolder or one in the folder) or NumPy files (`<input>.npy`, samples along the first axis, labels in `labels.npy`).");

    /// <summary>How many synthesized sample sets validation runs.</summary>
    public static IntegerSetting ValidationSamples { get; } = new(
        "ValidationSamples", Technique, SettingScope.Model, 4, 1, 10_000,
        "How many input sets validation synthesizes when no `ValidationData` is given.");

    /// <summary>How long ONNX Runtime may work on one model's validation and calibration, in seconds.</summary>
    public static IntegerSetting ValidationTimeout { get; } = new(
        "ValidationTimeout", Technique, SettingScope.Model, 300, 1, 86_400,
        "The longest, in seconds, that ONNX Runtime may take in all to load and run the original and the compressed model (and the calibration runs). They run in a worker process: past the limit it is stopped and the build fails with OCB0106, as a crash in ONNX Runtime fails it with OCB0105, and nothing is written.");

    /// <summary>Samples for the techniques that learn from activations.</summary>
    public static PathSetting CalibrationData { get; } = new(
        "CalibrationData", Technique, isFolder: true,
        "A folder of samples (as for `ValidationData`) that techniques learning from activations run the model on.");

    /// <summary>The largest accuracy loss allowed, in points.</summary>
    public static NumberSetting MaxAccuracyDrop { get; } = new(
        "MaxAccuracyDrop", Technique, SettingScope.Model, double.NaN, 0, 100,
        "Gate: the largest drop in accuracy, in percentage points, on labelled validation data (`labels.npy`, or expected outputs). None by default.");

    /// <summary>The smallest cosine similarity allowed between an output of the original and of the compressed model.</summary>
    public static NumberSetting MinCosineSimilarity { get; } = new(
        "MinCosineSimilarity", Technique, SettingScope.Model, double.NaN, -1, 1,
        "Gate: the lowest cosine similarity any float output may have with the original's. None by default.");

    /// <summary>The largest absolute difference allowed between an output element of the original and of the compressed model.</summary>
    public static NumberSetting MaxOutputError { get; } = new(
        "MaxOutputError", Technique, SettingScope.Model, double.NaN, 0, double.PositiveInfinity,
        "Gate: the largest absolute difference any output element may have from the original's. None by default.");

    /// <summary>The smallest top-1 agreement allowed between a classifier-like output of the original and of the compressed model, in percent.</summary>
    public static NumberSetting MinTop1Agreement { get; } = new(
        "MinTop1Agreement", Technique, SettingScope.Model, double.NaN, 0, 100,
        "Gate: the lowest share, in percent, of rows whose highest score is at the same index in the original's and the compressed model's output, over every float output whose last axis holds at least two scores (no labels needed). None by default.");

    /// <summary>What a missed gate does.</summary>
    public static ChoiceSetting CompressionGate { get; } = new(
        "CompressionGate", Technique, SettingScope.Model, GateError, [GateError, GateWarn],
        "What a missed gate does: `error` fails and writes nothing (OCB0104), `warn` warns (OCB0202) and writes the model.");

    /// <summary>The gates on validation: a limit each, none by default.</summary>
    public static IReadOnlyList<NumberSetting> Gates { get; } = [MaxAccuracyDrop, MinCosineSimilarity, MinTop1Agreement, MaxOutputError];

    /// <summary>Every option, in README order.</summary>
    public static IReadOnlyList<Setting> All { get; } =
        [Validate, ValidationData, ValidationSamples, ValidationTimeout, CalibrationData, MaxAccuracyDrop, MinCosineSimilarity, MinTop1Agreement, MaxOutputError, CompressionGate];
}

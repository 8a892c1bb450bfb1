using Compression.Core.Settings;

namespace Compression.Core.Passes.Distillation;

/// <summary>The options of layer-wise distillation.</summary>
public static class DistillationSettings
{
    /// <summary>The technique's name in the README and the report.</summary>
    public const string Technique = "Distillation";

    /// <summary>Whether pruned, factorized and clustered layers are refit to the original's outputs.</summary>
    public static BooleanSetting Distill { get; } = new(
        "Distill", Technique, SettingScope.Node, true,
        "With `CalibrationData`: after a layer is pruned, factorized or clustered, its remaining free parameters are refit (least " +
        "squares on the calibration activations) so that it reproduces the original layer's outputs, layer after layer, each fed the " +
        "compressed model's own activations. Without calibration data it does nothing; `false` turns it off.");

    /// <summary>Every option of the technique, in README order.</summary>
    public static IReadOnlyList<Setting> All { get; } = [Distill];
}

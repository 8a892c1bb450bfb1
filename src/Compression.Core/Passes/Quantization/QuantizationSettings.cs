using Compression.Core.Settings;

namespace Compression.Core.Passes.Quantization;

/// <summary>The options of weight quantization.</summary>
public static class QuantizationSettings
{
    /// <summary>The technique's name in the README and the report.</summary>
    public const string Technique = "Quantization";

    /// <summary>Quantize nothing.</summary>
    public const string None = "none";

    /// <summary>8-bit levels, symmetric around zero unless <see cref="Symmetric"/> is false.</summary>
    public const string Int8 = "int8";

    /// <summary>8-bit levels with a zero point: each channel or block maps its own [min, max].</summary>
    public const string UInt8 = "uint8";

    /// <summary>4-bit levels in blocks, symmetric around zero unless <see cref="Symmetric"/> is false.</summary>
    public const string Int4 = "int4";

    /// <summary>4-bit levels in blocks with a zero point per block.</summary>
    public const string UInt4 = "uint4";

    /// <summary>Half-precision floats, widened back to float at load.</summary>
    public const string Fp16 = "fp16";

    /// <summary>8-bit MatMul and Gemm that quantize their input at run time and multiply in integers.</summary>
    public const string Dynamic = "dynamic";

    /// <summary>Weights stored quantized, inputs kept in float.</summary>
    public const string WeightOnly = "weight-only";

    /// <summary>Weights and activations quantized, activation ranges from calibration data (QDQ).</summary>
    public const string Static = "static";

    /// <summary>Activation ranges from the smallest and largest values seen.</summary>
    public const string MinMax = "minmax";

    /// <summary>Activation ranges clipped at the 99.99th percentile of the values seen.</summary>
    public const string Percentile = "percentile";

    /// <summary>Activation ranges clipped where the quantized distribution diverges least from the original (KL).</summary>
    public const string Entropy = "entropy";

    /// <summary>Round each weight to its nearest level.</summary>
    public const string Rtn = "rtn";

    /// <summary>GPTQ: round input by input and compensate the error from calibration activations.</summary>
    public const string GptqAlgorithm = "gptq";

    /// <summary>Which weight quantization applies.</summary>
    public static ChoiceSetting Quantize { get; } = new(
        "Quantize", Technique, SettingScope.Node, Int8, [Int8, UInt8, Int4, UInt4, Fp16, None],
        "Weight quantization: `int8`, `uint8` (8 bits with a zero point per channel or block), `int4`, `uint4` (4 bits in blocks of " +
        "`BlockSize`), `fp16` (every float initializer of at least `WeightThreshold` elements stored as half floats and widened at " +
        "load: a size option, the model runs at float speed), or `none`. Quantizes the weights of MatMul, Gemm and Conv and the " +
        "tables of Gather (embeddings); the form each gets is in the README's quantization section.")
    {
        Alias = "-q",
    };

    /// <summary>How 8-bit MatMul and Gemm run.</summary>
    public static ChoiceSetting QuantizeMode { get; } = new(
        "QuantizeMode", Technique, SettingScope.Node, Dynamic, [Dynamic, WeightOnly, Static],
        "8-bit MatMul and Gemm: `dynamic` (the input is quantized at run time and multiplied in integers: fastest on CPU) or " +
        "`weight-only` (MatMulNBits: weights packed in blocks, input kept in float). `static`: Conv, MatMul and Gemm in the " +
        "main graph with weights, inputs and outputs quantized (QuantizeLinear/DequantizeLinear pairs that ONNX Runtime fuses " +
        "into integer kernels), activation ranges from `CalibrationData` (required); a node whose output is a model output " +
        "stays dynamic. 4-bit is always weight-only.");

    /// <summary>How static quantization sets activation ranges.</summary>
    public static ChoiceSetting CalibrationMethod { get; } = new(
        "CalibrationMethod", Technique, SettingScope.Model, MinMax, [MinMax, Percentile, Entropy],
        "`QuantizeMode=static`: each activation's range from the smallest and largest value on `CalibrationData` (`minmax`), " +
        "clipped at the 0.01th and 99.99th percentiles (`percentile`), or clipped where the Kullback-Leibler divergence between " +
        "the value's distribution and its quantized form is least (`entropy`); clipping costs the outliers precision and gives " +
        "everything else more.");

    /// <summary>The block size <c>BlockSize=auto</c> gives 4-bit weights.</summary>
    public const int AutoBlockSize4Bit = 32;

    /// <summary>The block size <c>BlockSize=auto</c> gives 8-bit weights, whose scales would otherwise cost more than the target size allows.</summary>
    public const int AutoBlockSize8Bit = 128;

    /// <summary>Values per block of the packed forms.</summary>
    public static IntegerSetting BlockSize { get; } = new(
        "BlockSize", Technique, SettingScope.Node, IntegerSetting.AutoValue, 16, 256,
        "Values that share one scale in the packed forms (4-bit and weight-only 8-bit MatMul and Gemm, Gather tables): " +
        "smaller blocks are more accurate and a little larger. `auto`: 32 for 4-bit weights; for 8-bit ones up to 128, the size " +
        "that stores each channel in the fewest bytes (a float scale per 32 bytes would add 12% to an 8-bit weight, and its " +
        "rounding error is small at any block size).")
    {
        PowerOfTwo = true,
        AutoName = "auto",
    };

    /// <summary>The smallest MatMul or Gemm weight that runs dynamic.</summary>
    public static IntegerSetting DynamicThreshold { get; } = new(
        "DynamicThreshold", Technique, SettingScope.Node, 131072, 0, long.MaxValue,
        "`QuantizeMode=dynamic`: MatMul and Gemm weights with fewer elements are stored as 8-bit levels that ONNX Runtime folds " +
        "back to float at load (the same file size) and run in float: below about 128 K values (256 x 512), quantizing the " +
        "input at run time costs more than the integer product saves (see the measured table in the README).");

    /// <summary>
    /// The block size of <paramref name="bits"/>-bit weights whose blocks run along <paramref name="length"/> values, for a
    /// <see cref="BlockSize"/> value. <c>auto</c>: 32 for 4 bits (16 for shorter inputs); for 8 bits the size up to 128 that
    /// stores a channel in the fewest bytes, padding of the last block and one float scale per block counted (64 for an
    /// input of 64, where a block of 128 would be half padding).
    /// </summary>
    public static int BlockSizeFor(long blockSize, int bits, long length)
    {
        if (blockSize != IntegerSetting.AutoValue)
        {
            return (int)blockSize;
        }

        if (bits == 4)
        {
            return length <= 16 ? 16 : AutoBlockSize4Bit;
        }

        int best = AutoBlockSize8Bit;
        long fewest = long.MaxValue;
        for (int block = AutoBlockSize8Bit; block >= 16; block /= 2)
        {
            long bytes = ((length + block - 1) / block) * (block + sizeof(float));
            if (bytes < fewest)
            {
                (best, fewest) = (block, bytes);
            }
        }

        return best;
    }

    /// <summary>Levels symmetric around zero, or a zero point per channel or block.</summary>
    public static BooleanSetting Symmetric { get; } = new(
        "Symmetric", Technique, SettingScope.Node, true,
        "`int8` and `int4`: levels symmetric around zero (`true`), or a zero point per channel or block (`false`). " +
        "`uint8` and `uint4` always use zero points.");

    /// <summary>How levels are chosen.</summary>
    public static ChoiceSetting Algorithm { get; } = new(
        "Algorithm", Technique, SettingScope.Node, Rtn, [Rtn, GptqAlgorithm],
        "`rtn`: each weight rounds to its nearest level, with the scale of each channel or block searched for the least error. " +
        "`gptq`: MatMul and Gemm weights are rounded one input at a time and each rounding error is compensated on the inputs " +
        "not yet rounded, from the layer's input activations on `CalibrationData` (required); the report gives both errors.");

    /// <summary>The smallest weight, in elements, that is quantized.</summary>
    public static IntegerSetting WeightThreshold { get; } = new(
        "WeightThreshold", Technique, SettingScope.Node, 1024, 0, long.MaxValue,
        "Weights with fewer elements stay float.");

    /// <summary>One scale per output channel, or one for the whole tensor.</summary>
    public static BooleanSetting PerChannel { get; } = new(
        "PerChannel", Technique, SettingScope.Node, true,
        "8-bit scales of the forms that are not blocked (dynamic MatMul and Gemm, Conv, `StandardOps`): one per output channel " +
        "(`true`), or one for the whole weight (`false`: a few bytes smaller, less accurate).");

    /// <summary>Only operators of the ONNX standard.</summary>
    public static BooleanSetting StandardOps { get; } = new(
        "StandardOps", Technique, SettingScope.Node, false,
        "Only standard ONNX operators, for runtimes other than ONNX Runtime: 8-bit weights through DequantizeLinear (opset 13); " +
        "4-bit weights through DequantizeLinear with blocks of `BlockSize` along the input of MatMul and Gemm and one scale per " +
        "channel elsewhere (opset 21; the model is raised to it). ONNX Runtime runs either at float speed only with the session " +
        "entry `session.disable_quant_qdq=1` (the generated class sets it).");

    /// <summary>Every option of the technique, in README order.</summary>
    public static IReadOnlyList<Setting> All { get; } = [Quantize, QuantizeMode, CalibrationMethod, BlockSize, Symmetric, Algorithm, WeightThreshold, DynamicThreshold, PerChannel, StandardOps];

    /// <summary>Bits per value of a <see cref="Quantize"/> choice.</summary>
    public static int BitsOf(string quantize) => quantize switch
    {
        Int4 or UInt4 => 4,
        Fp16 => 16,
        _ => 8,
    };
}

using Compression.Core.Ir;

namespace Compression.Core.Passes.Quantization;

/// <summary>The quantization settings one weight gets, agreed by every node that reads it.</summary>
/// <remarks><see cref="BlockSize"/> is the setting's value (<see cref="Settings.IntegerSetting.AutoValue"/> for <c>auto</c>); the plan resolves it per weight.</remarks>
internal sealed record WeightChoice(string Quantize, string Mode, long Threshold, long DynamicThreshold, bool PerChannel, long BlockSize, bool Symmetric, bool StandardOps, string Algorithm)
{
    public int Bits => QuantizationSettings.BitsOf(Quantize);

    /// <summary>True when the levels have a zero point per channel or block (uint types, or Symmetric=false).</summary>
    public bool HasZeroPoints => Quantize is QuantizationSettings.UInt8 or QuantizationSettings.UInt4 || !Symmetric;

    public override string ToString() =>
        $"Quantize={Quantize}, QuantizeMode={Mode}, BlockSize={QuantizationSettings.BlockSize.Format(BlockSize)}, Symmetric={(Symmetric ? "true" : "false")}, " +
        $"WeightThreshold={Threshold}, DynamicThreshold={DynamicThreshold}, PerChannel={(PerChannel ? "true" : "false")}, StandardOps={(StandardOps ? "true" : "false")}, Algorithm={Algorithm}";
}

/// <summary>The operators whose weight input has a quantized form.</summary>
internal enum SlotKind
{
    MatMul,
    Gemm,
    Conv,
    Gather,

    /// <summary>Any other operator (fp16 stores every float initializer, whoever reads it).</summary>
    Other,
}

/// <summary>A node that reads a weight in its weight slot (MatMul's and Gemm's B, Conv's W, Gather's data).</summary>
/// <param name="Node">The node.</param>
/// <param name="Kind">Its operator.</param>
/// <param name="Axis">The weight's output-channel axis for this node (Gather: its rows), or -1 when the layout does not fit.</param>
internal sealed record WeightSlot(Node Node, SlotKind Kind, int Axis)
{
    /// <summary>
    /// Why the node cannot take the packed or integer forms (MatMulNBits, MatMulInteger, GatherBlockQuantized) and must read
    /// the weight in float, or null when it can.
    /// </summary>
    public string? KernelProblem(int rank) => Kind switch
    {
        SlotKind.MatMul => rank == 2 ? null : $"a {rank}-D MatMul weight (the packed and integer kernels take 2-D weights)",
        SlotKind.Gemm => Node.GetInt("transA", 0) != 0 ? "Gemm with transA=1" : null,
        SlotKind.Gather => rank == 2 && Node.GetInt("axis", 0) == 0 ? null : "a Gather that is not a row lookup in a 2-D table",
        _ => null,
    };
}

/// <summary>How a quantized weight is stored and read.</summary>
internal enum WeightForm
{
    /// <summary>com.microsoft.MatMulNBits: levels packed in blocks, kept packed in memory.</summary>
    PackedMatMul,

    /// <summary>DynamicQuantizeLinear and MatMulInteger: the input is quantized at run time.</summary>
    DynamicMatMul,

    /// <summary>com.microsoft.GatherBlockQuantized: embedding rows packed in blocks.</summary>
    PackedGather,

    /// <summary>Cast and Mul over constants, which ONNX Runtime folds back to the float weight at load.</summary>
    Folded,

    /// <summary>The standard DequantizeLinear.</summary>
    Standard,

    /// <summary>DequantizeLinear weights, with the node's input and output quantized too (static QDQ).</summary>
    Static,

    /// <summary>Half-precision floats with a Cast, which ONNX Runtime's constant folding widens back to float at load.</summary>
    Half,
}

/// <summary>What the pass does with one weight.</summary>
/// <param name="Weight">The initializer.</param>
/// <param name="Slots">The nodes that read it.</param>
/// <param name="Choice">Its settings.</param>
/// <param name="Form">How it is stored.</param>
/// <param name="Axis">The axis with one scale per index (the output channels), or -1 for one scale for the whole weight.</param>
/// <param name="BlockSize">Values per block along the input axis (the packed forms), or 0 for whole channels.</param>
/// <param name="Bits">Bits per value.</param>
/// <param name="Note">Why the form differs from what the settings ask for, or null.</param>
internal sealed record WeightPlan(Value Weight, IReadOnlyList<WeightSlot> Slots, WeightChoice Choice, WeightForm Form, int Axis, int BlockSize, int Bits, string? Note)
{
    /// <summary>The operators that read the weight, each once, in order.</summary>
    public IReadOnlyList<string> OpTypes => Slots.Select(s => s.Node.OpType).Distinct().Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// True when GPTQ applies: asked for, a weight read only by MatMul and Gemm with one scale per channel or block, every
    /// reader in the main graph (whose activations are recorded).
    /// </summary>
    /// <remarks>Decided when the plan is made, while the weight is still an initializer whose rank the readers' kernels check.</remarks>
    public bool UsesGptq { get; } = Choice.Algorithm == QuantizationSettings.GptqAlgorithm && Axis >= 0
        && Form is WeightForm.PackedMatMul or WeightForm.DynamicMatMul or WeightForm.Folded or WeightForm.Standard
        && Slots.All(s => s.Kind is SlotKind.MatMul or SlotKind.Gemm && s.KernelProblem(Weight.Initializer?.Dims.Count ?? 0) is null
            && s.Node.Graph?.Parent is null);

    /// <summary>The technique in the report's words: the form, then the levels.</summary>
    public string Technique => $"{FormText}, {LevelsText}{(UsesGptq ? ", GPTQ" : string.Empty)}";

    /// <summary>How the weight is stored and run (<c>8-bit dynamic MatMulInteger</c>).</summary>
    public string FormText => Form switch
    {
        WeightForm.PackedMatMul => $"{Bits}-bit MatMulNBits",
        WeightForm.DynamicMatMul => "8-bit dynamic MatMulInteger",
        WeightForm.PackedGather => $"{Bits}-bit GatherBlockQuantized",
        WeightForm.Folded => $"{Bits}-bit, folded to float at load",
        WeightForm.Static => "8-bit static QDQ (weights, inputs and outputs)",
        WeightForm.Half => "fp16, widened to float at load",
        _ => Bits == 4 ? $"{(Choice.HasZeroPoints ? "uint4" : "int4")} DequantizeLinear" : $"{(Choice.HasZeroPoints ? "uint8" : "int8")} DequantizeLinear",
    };

    /// <summary>The levels and their scales (<c>symmetric, one scale per output channel</c>).</summary>
    public string LevelsText
    {
        get
        {
            if (Form == WeightForm.Half)
            {
                return "values beyond fp16's range clamped to ±65504";
            }

            string levels = Choice.HasZeroPoints ? "zero point per " + (BlockSize > 0 ? "block" : Axis < 0 ? "tensor" : "channel") : "symmetric";
            string granularity = BlockSize > 0 ? $"blocks of {BlockSize}" : Axis < 0 ? "one scale per tensor" : "one scale per output channel";
            return $"{levels}, {granularity}";
        }
    }
}

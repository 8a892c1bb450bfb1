using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Opsets;

internal static partial class OpsetSteps
{
    /// <summary>Opset 9: BatchNormalization dropped <c>spatial</c>; it always normalizes per channel (spatial=1).</summary>
    private static void BatchNormalizationSpatial(NodeRewrite r)
    {
        if (r.Node.Remove("spatial") is { I: not 1 })
        {
            r.Refuse("spatial=0 (statistics per activation rather than per channel) has no equivalent from opset 9 on");
        }
    }

    /// <summary>
    /// Opset 13: Softmax, LogSoftmax and Hardmax used to flatten their input to 2-D at <c>axis</c> (default 1) and
    /// normalize each row, that is over all the trailing dimensions at once; since then they normalize along the one
    /// dimension <c>axis</c> (default -1). Where the axis is the last one both mean the same and the axis is written
    /// out; elsewhere Shape, Flatten(axis), the operator along -1 and Reshape back compute the old meaning for any rank.
    /// </summary>
    private static void NormalizeAlongOneAxis(NodeRewrite r)
    {
        long axis = r.Node.GetInt("axis", 1);
        int? rank = r.InputRank(0);
        if (axis == -1 || (rank is int n && axis == n - 1))
        {
            r.Node.SetInt("axis", axis);
            return;
        }

        string input = r.Node.Input[0];
        string output = r.Node.Output[0];
        string shape = r.NewValue("shape");
        string flat = r.NewValue("flat");
        string normalized = r.NewValue("normalized");
        r.InsertBefore("Shape", [input], [shape]);
        r.InsertBefore("Flatten", [input], [flat], NodeAttributes.Int("axis", axis));
        r.Node.Input[0] = flat;
        r.Node.Output[0] = normalized;
        r.Node.SetInt("axis", -1);
        r.InsertAfter("Reshape", [normalized, shape], [output]);

        DataType? type = r.Types.ElementType(input);
        r.Types.Declare(shape, 1, DataType.Int64);
        r.Types.Declare(flat, 2, type);
        r.Types.Declare(normalized, 2, type);
    }
}

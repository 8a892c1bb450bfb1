using Compression.Onnx.Protos;
using AttributeType = Compression.Onnx.Protos.AttributeProto.Types.AttributeType;

namespace Compression.Core.Opsets;

internal static partial class OpsetSteps
{
    /// <summary>
    /// Opset 7: before it, elementwise operators broadcast only when <c>broadcast=1</c>, and only B into A, with B's
    /// dimensions lined up from A's dimension <c>axis</c> (by default, from the end). Since then they broadcast like
    /// numpy, which lines B up from the end. Where <c>axis</c> lines B up elsewhere, B gets trailing dimensions of 1.
    /// </summary>
    private static void NumpyBroadcasting(NodeRewrite r)
    {
        AttributeProto? broadcast = r.Node.Remove("broadcast");
        AttributeProto? axisAttribute = r.Node.Remove("axis");
        if (broadcast is not { I: not 0 } || axisAttribute is null || IsSingleElement(r, 1))
        {
            // Equal shapes, B lined up with A's trailing dimensions, or a single value: numpy broadcasting means the same.
            return;
        }

        int? rankA = r.InputRank(0);
        int? rankB = r.InputRank(1);
        if (rankA is not int a || rankB is not int b)
        {
            r.Refuse($"broadcast=1 with axis={axisAttribute.I} needs the ranks of both inputs to line B up numpy-style, and they cannot be told from the model");
            return;
        }

        long axis = axisAttribute.I < 0 ? axisAttribute.I + a : axisAttribute.I;
        long trailing = a - axis - b;
        if (axis < 0 || trailing < 0)
        {
            r.Refuse($"broadcast=1 with axis={axisAttribute.I} does not fit inputs of ranks {a} and {b}");
            return;
        }

        if (trailing > 0)
        {
            r.Node.Input[1] = AppendUnitAxes(r, 1, b, (int)trailing);
        }
    }

    /// <summary>
    /// Opset 7: a 1-D PRelu slope applied along the channel axis (axis 1) before; since then the slope broadcasts
    /// like numpy (lined up with the last axis). A 1-D slope gets trailing dimensions of 1 to stay on the channels.
    /// </summary>
    private static void SlopePerChannel(NodeRewrite r)
    {
        int? rankX = r.InputRank(0);
        int? rankSlope = r.InputRank(1);
        if (rankSlope is 0 or > 1 || rankX is <= 2 || IsSingleElement(r, 1))
        {
            // A scalar slope, one laid out for broadcasting already, a single value, or channels on the last axis.
            return;
        }

        if (rankX is not int x || rankSlope is null)
        {
            r.Refuse("the ranks of X and slope cannot be told from the model, so the per-channel slope cannot be laid out for numpy broadcasting");
            return;
        }

        r.Node.Input[1] = AppendUnitAxes(r, 1, 1, x - 2);
    }

    /// <summary>
    /// Opset 7: BatchNormalization dropped <c>is_test</c>; with one output it always normalizes with the running
    /// statistics (test mode). An explicit is_test=0 asked for batch statistics and is refused; an absent one is
    /// taken as test mode, as exporters wrote it for inference and as ONNX's version converter takes it.
    /// </summary>
    private static void BatchNormalizationTestMode(NodeRewrite r)
    {
        if (r.Node.Remove("is_test") is { I: 0 })
        {
            r.Refuse("is_test=0 normalizes with the statistics of the batch (training mode), which later versions do not do in inference");
        }
    }

    // True when input `index` is a scalar or a constant of one element, which broadcasts the same along any axis.
    private static bool IsSingleElement(NodeRewrite r, int index) =>
        r.InputRank(index) == 0 ||
        (r.HasInput(index) && r.Types.Constant(r.Node.Input[index]) is { } constant && constant.Dims.All(d => d == 1));

    // Unsqueezes input `index` (of rank `rank`) with `count` trailing axes; returns the new value's name.
    private static string AppendUnitAxes(NodeRewrite r, int index, int rank, int count)
    {
        string input = r.Node.Input[index];
        string unsqueezed = r.NewValue("unsqueezed");
        var axes = new AttributeProto { Name = "axes", Type = AttributeType.Ints };
        for (int i = 0; i < count; i++)
        {
            axes.Ints.Add(rank + i);
        }

        r.InsertBefore("Unsqueeze", [input], [unsqueezed], axes);
        r.Types.Declare(unsqueezed, rank + count, r.InputType(index));
        return unsqueezed;
    }
}

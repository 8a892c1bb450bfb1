using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Opsets;

internal static partial class OpsetSteps
{
    /// <summary>
    /// Moves an integer list attribute to a 1-D int64 constant input (Squeeze, Unsqueeze, ReduceSum, Split at 13).
    /// An empty list meant the same as no list, which an absent input still means.
    /// </summary>
    private static void AttributeToInt64Input(NodeRewrite r, string attribute, int index)
    {
        if (r.Node.Remove(attribute) is { Ints.Count: > 0 } values)
        {
            r.SetInput(index, r.Int64Constant(attribute, values.Ints));
        }
    }

    /// <summary>Opset 10: Slice takes starts, ends and axes as inputs.</summary>
    private static void SliceAttributesToInputs(NodeRewrite r)
    {
        if (!r.Node.Has("starts") || !r.Node.Has("ends"))
        {
            r.Refuse("Slice without starts and ends attributes is not a valid Slice before opset 10");
            return;
        }

        AttributeToInt64Input(r, "starts", 1);
        AttributeToInt64Input(r, "ends", 2);
        AttributeToInt64Input(r, "axes", 3);
    }

    /// <summary>Opset 10: TopK takes k as a 1-element int64 input.</summary>
    private static void TopKAttributeToInput(NodeRewrite r)
    {
        if (r.Node.Remove("k") is not { } k)
        {
            r.Refuse("TopK without a k attribute is not a valid TopK before opset 10");
            return;
        }

        r.SetInput(1, r.Int64Constant("k", [k.I]));
    }

    /// <summary>
    /// Opsets 10 and 12: Dropout's mask became boolean (it had the data's type), and what it holds in inference
    /// changed with it: ONNX Runtime writes zeros (false) before opset 12 and true from opset 12 on, as the ONNX
    /// reference always did. A mask nothing reads is dropped; a mask that is read cannot keep its value.
    /// </summary>
    private static void DropoutMask(NodeRewrite r)
    {
        if (r.Node.Output.Count < 2 || r.Node.Output[1].Length == 0)
        {
            return;
        }

        if (r.IsRead(r.Node.Output[1]))
        {
            r.Refuse("its mask output is read, and the mask of an inference Dropout is all zeros in ONNX Runtime before opset 12 but all true from opset 12 on");
            return;
        }

        r.Node.Output.RemoveAt(1);
    }

    /// <summary>Opset 11: Clip takes min and max as inputs of the data's element type.</summary>
    private static void ClipAttributesToInputs(NodeRewrite r)
    {
        AttributeProto? min = r.Node.Remove("min");
        AttributeProto? max = r.Node.Remove("max");
        DataType type = r.InputType(0) ?? DataType.Float;
        if (min is not null)
        {
            r.SetInput(1, r.ScalarConstant("min", type, min.F));
        }

        if (max is not null)
        {
            r.SetInput(2, r.ScalarConstant("max", type, max.F));
        }
    }

    /// <summary>
    /// Opset 11: Pad takes pads as an int64 input and the constant value as an input of the data's element type
    /// (left out when it is the default, 0, or when the mode does not use it).
    /// </summary>
    private static void PadAttributesToInputs(NodeRewrite r)
    {
        if (r.Node.Remove("pads") is not { } pads)
        {
            r.Refuse("Pad without a pads attribute is not a valid Pad before opset 11");
            return;
        }

        r.SetInput(1, r.Int64Constant("pads", pads.Ints));
        AttributeProto? value = r.Node.Remove("value");
        if (value is not null && value.F != 0 && r.Node.GetString("mode", "constant") == "constant")
        {
            r.SetInput(2, r.ScalarConstant("value", r.InputType(0) ?? DataType.Float, value.F));
        }
    }

    /// <summary>Opset 12: Dropout takes the ratio as an input (a float scalar); without it the ratio stays 0.5.</summary>
    private static void DropoutRatioToInput(NodeRewrite r)
    {
        DropoutMask(r);
        if (!r.Refused && r.Node.Remove("ratio") is { } ratio)
        {
            r.SetInput(1, r.ScalarConstant("ratio", DataType.Float, ratio.F));
        }
    }
}

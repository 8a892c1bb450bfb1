using Compression.Onnx.Protos;

namespace Compression.Core.Opsets;

internal static partial class OpsetSteps
{
    /// <summary>
    /// Opset 14: BatchNormalization's running statistics outputs exist only with <c>training_mode=1</c>; an inference node
    /// (the only kind before, since opset 7) has just Y. Statistics outputs nothing reads are dropped.
    /// </summary>
    private static void BatchNormalizationInferenceOutputs(NodeRewrite r)
    {
        for (int index = r.Node.Output.Count - 1; index >= 1; index--)
        {
            string output = r.Node.Output[index];
            if (output.Length > 0 && r.IsRead(output))
            {
                r.Refuse("a statistics output is read; from opset 14 an inference BatchNormalization has only its normalized output");
                return;
            }

            r.Node.Output.RemoveAt(index);
        }
    }

    /// <summary>Opset 16: RoiAlign's default coordinate mapping became half_pixel; the old default is written out.</summary>
    private static void RoiAlignCoordinateMapping(NodeRewrite r)
    {
        if (!r.Node.Has("coordinate_transformation_mode"))
        {
            r.Node.SetString("coordinate_transformation_mode", "output_half_pixel");
        }
    }

    /// <summary>
    /// Opset 18: Split without a split input must say how many outputs it has (<c>num_outputs</c>); it split equally
    /// among its outputs before, which the count keeps.
    /// </summary>
    private static void SplitOutputCount(NodeRewrite r)
    {
        if (!r.HasInput(1) && !r.Node.Has("num_outputs"))
        {
            r.Node.Attribute.Add(NodeAttributes.Int("num_outputs", r.Node.Output.Count));
        }
    }

    /// <summary>Opset 20: GridSample's modes were renamed (bilinear to linear, bicubic to cubic).</summary>
    private static void GridSampleModeNames(NodeRewrite r)
    {
        string mode = r.Node.GetString("mode", "bilinear");
        if (mode is "bilinear" or "bicubic")
        {
            r.Node.SetString("mode", mode == "bilinear" ? "linear" : "cubic");
        }
    }

    /// <summary>Opset 20: DFT takes its axis as a scalar int64 input, whose default changed from 1 to -2; the old axis is written out.</summary>
    private static void DftAxisToInput(NodeRewrite r)
    {
        long axis = r.Node.Remove("axis") is { } attribute ? attribute.I : 1;
        r.SetInput(2, r.ScalarConstant("axis", TensorProto.Types.DataType.Int64, axis));
    }
}

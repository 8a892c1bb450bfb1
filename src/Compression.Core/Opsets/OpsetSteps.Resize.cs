using Compression.Onnx;
using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Opsets;

internal static partial class OpsetSteps
{
    /// <summary>
    /// Opset 7: the experimental Upsample of the first opsets took <c>height_scale</c> and <c>width_scale</c> of an
    /// NCHW input and called linear interpolation "bilinear"; Upsample-7 takes one scale per dimension.
    /// </summary>
    private static void UpsampleHeightWidthScales(NodeRewrite r)
    {
        if (r.Node.GetString("mode", "nearest") == "bilinear")
        {
            r.Node.SetString("mode", "linear");
        }

        AttributeProto? height = r.Node.Remove("height_scale");
        AttributeProto? width = r.Node.Remove("width_scale");
        if (height is null && width is null && r.Node.Has("scales"))
        {
            return;
        }

        if (height is null || width is null || r.InputRank(0) is not (null or 4))
        {
            r.Refuse("the experimental Upsample needs height_scale and width_scale and a 4-D (NCHW) input");
            return;
        }

        r.Node.SetFloats("scales", [1, 1, height.F, width.F]);
    }

    /// <summary>Opset 9: Upsample takes its scales as a float input.</summary>
    private static void UpsampleScalesToInput(NodeRewrite r)
    {
        if (r.Node.Remove("scales") is { } scales)
        {
            r.SetInput(1, r.FloatConstant("scales", [scales.Floats.Count], scales.Floats));
        }
    }

    /// <summary>Opset 10: Upsample became Resize, with the same inputs and meaning.</summary>
    private static void UpsampleToResize(NodeRewrite r) => r.Node.OpType = "Resize";

    /// <summary>
    /// Opset 11: Resize takes (X, roi, scales) and learned coordinate transformation modes, with half_pixel as the
    /// default. Resize-10 (and Upsample) map an output index to input index / scale ("asymmetric"), and ONNX Runtime
    /// rounds that down when upsampling and up when downsampling (in nearest mode); the attributes say so explicitly.
    /// Where the scales are not constant, a Resize-10 in nearest mode cannot tell which rounding it needs.
    /// </summary>
    private static void ResizeAsymmetric(NodeRewrite r)
    {
        if (r.Node.GetString("mode", "nearest") == "nearest")
        {
            string? rounding = NearestRounding(r);
            if (rounding is null)
            {
                r.Refuse("Resize-10 in nearest mode rounds down when upsampling and up when downsampling; its scales are not constant or mix both, so no single nearest_mode of Resize-11 means the same");
                return;
            }

            r.Node.SetString("nearest_mode", rounding);
        }

        r.Node.SetString("coordinate_transformation_mode", "asymmetric");
        string scales = r.HasInput(1) ? r.Node.Input[1] : string.Empty;

        // roi only matters for tf_crop_and_resize; it is optional from opset 13 on.
        r.SetInput(1, r.Target >= 13 ? string.Empty : r.FloatConstant("roi", [0], []));
        r.SetInput(2, scales);
    }

    // "floor" when every scale is at least 1, "ceil" when none is more than 1, null when that cannot be told.
    private static string? NearestRounding(NodeRewrite r)
    {
        if (r.OriginalOpType == "Upsample")
        {
            // Upsample's scales are at least 1 by definition.
            return "floor";
        }

        if (!r.HasInput(1) || r.Types.Constant(r.Node.Input[1]) is not { DataType: (int)DataType.Float } tensor)
        {
            return null;
        }

        float[] scales = tensor.ToArray<float>();
        return scales.All(s => s >= 1) ? "floor" : scales.All(s => s <= 1) ? "ceil" : null;
    }
}

namespace Compression.Core.Tests.Fuzz;

/// <summary>The valid models the fuzz mutates: the sample digits MLP and small models of the ONNX backend suite (Gemm,
/// Conv, MatMul, Gather, If, Loop, Scan; opsets 6 to 13).</summary>
internal static class FuzzSeeds
{
    /// <summary>The seed files, from the repository root and the backend suite's data folder (…/data/).</summary>
    public static IEnumerable<string> Paths(string repositoryRoot, string onnxTestData)
    {
        yield return Path.Combine(repositoryRoot, "samples", "Digits", "Models", "digits.onnx");
        foreach (string test in (string[])["pytorch-converted/test_Linear", "pytorch-converted/test_Conv2d", "node/test_gemm_default_no_bias",
                     "node/test_matmul_2d", "node/test_gather_0", "node/test_if", "node/test_loop11", "node/test_scan9_sum", "node/test_conv_with_strides_padding"])
        {
            yield return Path.Combine(onnxTestData, test, "model.onnx");
        }
    }
}

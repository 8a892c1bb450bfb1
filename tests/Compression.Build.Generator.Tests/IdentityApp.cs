using System.Reflection;

namespace Compression.Build.Generator.Tests;

/// <summary>
/// An app with the classes generated for the tests' identity models (TestModels/*.onnx, made by
/// make_test_models.py), whose outputs copy their inputs: every element type goes into ONNX Runtime and back.
/// </summary>
public sealed class IdentityApp
{
    private const string ProbeSource = """
        using System;
        using Compression.Runtime;
        using Sample.App;

        namespace Probe
        {
            internal static class IdentityProbe
            {
                public static object[] RunArrays(string modelPath)
                {
                    using IdentityArrays model = new IdentityArrays(modelPath);
                    IdentityArrays.Outputs outputs = model.Run(
                        tokens: new long[] { 1, 2, 3, 4, 5, 6, 7, long.MaxValue },
                        mask: new bool[] { true, false, true, false, false, false, true, true },
                        words: new string[] { "héllo", "wörld ✓" },
                        scale: (Half)1.5f,
                        bits: new ushort[] { 0x3F80, 0xC000 },
                        @class: new int[] { -1, 0, int.MaxValue });
                    return Describe(outputs);
                }

                public static object[] RunTensors(string modelPath)
                {
                    using IdentityArrays model = new IdentityArrays(modelPath);
                    IdentityArrays.Outputs outputs = model.Run(
                        OnnxTensor.FromArray(new long[] { 1, 2, 3, 4, 5, 6, 7, long.MaxValue }, 2, 4),
                        OnnxTensor.FromArray(new bool[] { true, false, true, false, false, false, true, true }, 2, 4),
                        OnnxTensor.FromStrings(new string[] { "héllo", "wörld ✓" }, 2),
                        OnnxTensor.FromArray(new Half[] { (Half)1.5f }),
                        new OnnxTensor<ushort>(new ushort[] { 0x3F80, 0xC000 }, new long[] { 2 }, TensorElementType.BFloat16),
                        OnnxTensor.FromArray(new int[] { -1, 0, int.MaxValue }, 3));
                    return Describe(outputs);
                }

                public static int RunArraysWithBatches(string modelPath, int tokenRows, int maskRows, int wordRows)
                {
                    using IdentityArrays model = new IdentityArrays(modelPath);
                    string[] words = new string[wordRows];
                    Array.Fill(words, "word");
                    IdentityArrays.Outputs outputs = model.Run(
                        new long[tokenRows * 4], new bool[maskRows * 4], words, (Half)0f, new ushort[2], new int[3]);
                    return (int)outputs.TokensOut.Shape[0];
                }

                public static int RunTensorsWithWordRows(string modelPath, int wordRows)
                {
                    using IdentityArrays model = new IdentityArrays(modelPath);
                    string[] words = new string[wordRows];
                    Array.Fill(words, "word");
                    IdentityArrays.Outputs outputs = model.Run(
                        OnnxTensor.FromArray(new long[8], 2, 4),
                        OnnxTensor.FromArray(new bool[8], 2, 4),
                        OnnxTensor.FromStrings(words, wordRows),
                        OnnxTensor.FromArray(new Half[1]),
                        new OnnxTensor<ushort>(new ushort[2], new long[] { 2 }, TensorElementType.BFloat16),
                        OnnxTensor.FromArray(new int[3], 3));
                    return (int)outputs.WordsOut.Shape[0];
                }

                public static int RunBitsAsUInt16(string modelPath)
                {
                    using IdentityArrays model = new IdentityArrays(modelPath);
                    IdentityArrays.Outputs outputs = model.Run(
                        OnnxTensor.FromArray(new long[8], 2, 4),
                        OnnxTensor.FromArray(new bool[8], 2, 4),
                        OnnxTensor.FromStrings(new string[] { "a", "b" }, 2),
                        OnnxTensor.FromArray(new Half[1]),
                        OnnxTensor.FromArray(new ushort[2], 2),
                        OnnxTensor.FromArray(new int[3], 3));
                    return outputs.BitsOut.Span.Length;
                }

                public static object[] RunOpen(string modelPath)
                {
                    using IdentityOpen model = new IdentityOpen(modelPath);
                    IdentityOpen.Outputs outputs = model.Run(
                        OnnxTensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 1, 2, 3),
                        OnnxTensor.FromArray(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, 2, 5));
                    return new object[] { outputs.ValuesOut.Shape.ToArray(), outputs.ValuesOut.ToArray(), outputs.GridOut.Shape.ToArray(), outputs.GridOut.ToArray() };
                }

                private static object[] Describe(IdentityArrays.Outputs outputs) => new object[]
                {
                    outputs.TokensOut.ToArray(), outputs.TokensOut.Shape.ToArray(),
                    outputs.MaskOut.ToArray(),
                    new System.Collections.Generic.List<string>(outputs.WordsOut.Values).ToArray(),
                    (float)outputs.ScaleOut.Span[0], outputs.ScaleOut.Shape.Length,
                    outputs.BitsOut.ToArray(), outputs.BitsOut.ElementType.ToString(),
                    outputs.ClassOut.ToArray(),
                };
            }
        }
        """;

    public IdentityApp()
    {
        Run = GeneratorRun.Start(
            [
                Sidecar.For("identity-arrays.onnx", Signatures.IdentityArrays),
                Sidecar.For("identity-open.onnx", Signatures.IdentityOpen),
            ],
            userSources: ProbeSource);
        Assembly = Run.LoadAssembly();
    }

    internal GeneratorRun Run { get; }

    public Assembly Assembly { get; }

    public T Call<T>(string method, params object?[] arguments) => GeneratorRun.Call<T>(Assembly, "Probe.IdentityProbe", method, arguments);
}

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
        using Microsoft.ML.OnnxRuntime;
        using Sample.App;

        namespace Probe
        {
            internal static class IdentityProbe
            {
                public static object[] RunArrays(string modelPath)
                {
                    using IdentityArrays model = new IdentityArrays(modelPath);
                    using IdentityArrays.Outputs outputs = model.Run(
                        tokens: new long[] { 1, 2, 3, 4, 5, 6, 7, long.MaxValue },
                        mask: new bool[] { true, false, true, false, false, false, true, true },
                        words: new string[] { "héllo", "wörld ✓" },
                        scale: (Float16)1.5f,
                        bits: new BFloat16[] { new BFloat16(0x3F80), new BFloat16(0xC000) },
                        @class: new int[] { -1, 0, int.MaxValue });
                    return Describe(outputs);
                }

                public static object[] RunValues(string modelPath)
                {
                    using IdentityArrays model = new IdentityArrays(modelPath);
                    using OrtValue tokens = OrtValue.CreateTensorValueFromMemory(new long[] { 1, 2, 3, 4, 5, 6, 7, long.MaxValue }, new long[] { 2, 4 });
                    using OrtValue mask = OrtValue.CreateTensorValueFromMemory(new bool[] { true, false, true, false, false, false, true, true }, new long[] { 2, 4 });
                    using OrtValue words = Strings(new string[] { "héllo", "wörld ✓" });
                    using OrtValue scale = OrtValue.CreateTensorValueFromMemory(new Float16[] { (Float16)1.5f }, Array.Empty<long>());
                    using OrtValue bits = OrtValue.CreateTensorValueFromMemory(new BFloat16[] { new BFloat16(0x3F80), new BFloat16(0xC000) }, new long[] { 2 });
                    using OrtValue @class = OrtValue.CreateTensorValueFromMemory(new int[] { -1, 0, int.MaxValue }, new long[] { 3 });
                    using IdentityArrays.Outputs outputs = model.Run(tokens, mask, words, scale, bits, @class);
                    return Describe(outputs);
                }

                public static int RunArraysWithBatches(string modelPath, int tokenRows, int maskRows, int wordRows)
                {
                    using IdentityArrays model = new IdentityArrays(modelPath);
                    string[] words = new string[wordRows];
                    Array.Fill(words, "word");
                    using IdentityArrays.Outputs outputs = model.Run(
                        new long[tokenRows * 4], new bool[maskRows * 4], words, (Float16)0f, new BFloat16[2], new int[3]);
                    return (int)outputs.TokensOut.GetTensorTypeAndShape().Shape[0];
                }

                public static int RunValuesWithWordRows(string modelPath, int wordRows)
                {
                    using IdentityArrays model = new IdentityArrays(modelPath);
                    string[] strings = new string[wordRows];
                    Array.Fill(strings, "word");
                    using OrtValue tokens = OrtValue.CreateTensorValueFromMemory(new long[8], new long[] { 2, 4 });
                    using OrtValue mask = OrtValue.CreateTensorValueFromMemory(new bool[8], new long[] { 2, 4 });
                    using OrtValue words = Strings(strings);
                    using OrtValue scale = OrtValue.CreateTensorValueFromMemory(new Float16[1], Array.Empty<long>());
                    using OrtValue bits = OrtValue.CreateTensorValueFromMemory(new BFloat16[2], new long[] { 2 });
                    using OrtValue @class = OrtValue.CreateTensorValueFromMemory(new int[3], new long[] { 3 });
                    using IdentityArrays.Outputs outputs = model.Run(tokens, mask, words, scale, bits, @class);
                    return (int)outputs.WordsOut.GetTensorTypeAndShape().Shape[0];
                }

                public static int RunBitsAsUInt16(string modelPath)
                {
                    using IdentityArrays model = new IdentityArrays(modelPath);
                    using OrtValue tokens = OrtValue.CreateTensorValueFromMemory(new long[8], new long[] { 2, 4 });
                    using OrtValue mask = OrtValue.CreateTensorValueFromMemory(new bool[8], new long[] { 2, 4 });
                    using OrtValue words = Strings(new string[] { "a", "b" });
                    using OrtValue scale = OrtValue.CreateTensorValueFromMemory(new Float16[1], Array.Empty<long>());
                    using OrtValue bits = OrtValue.CreateTensorValueFromMemory(new ushort[2], new long[] { 2 });
                    using OrtValue @class = OrtValue.CreateTensorValueFromMemory(new int[3], new long[] { 3 });
                    using IdentityArrays.Outputs outputs = model.Run(tokens, mask, words, scale, bits, @class);
                    return outputs.BitsOut.GetTensorDataAsSpan<BFloat16>().Length;
                }

                public static object[] RunOpen(string modelPath)
                {
                    using IdentityOpen model = new IdentityOpen(modelPath);
                    using OrtValue values = OrtValue.CreateTensorValueFromMemory(new float[] { 1, 2, 3, 4, 5, 6 }, new long[] { 1, 2, 3 });
                    using OrtValue grid = OrtValue.CreateTensorValueFromMemory(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, new long[] { 2, 5 });
                    using IdentityOpen.Outputs outputs = model.Run(values, grid);
                    return new object[]
                    {
                        outputs.ValuesOut.GetTensorTypeAndShape().Shape, outputs.ValuesOut.GetTensorDataAsSpan<float>().ToArray(),
                        outputs.GridOut.GetTensorTypeAndShape().Shape, outputs.GridOut.GetTensorDataAsSpan<byte>().ToArray(),
                    };
                }

                private static OrtValue Strings(string[] strings)
                {
                    OrtValue value = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, new long[] { strings.Length });
                    for (int i = 0; i < strings.Length; i++)
                    {
                        value.StringTensorSetElementAt(strings[i].AsSpan(), i);
                    }

                    return value;
                }

                private static object[] Describe(IdentityArrays.Outputs outputs)
                {
                    BFloat16[] bits = outputs.BitsOut.GetTensorDataAsSpan<BFloat16>().ToArray();
                    return new object[]
                    {
                        outputs.TokensOut.GetTensorDataAsSpan<long>().ToArray(), outputs.TokensOut.GetTensorTypeAndShape().Shape,
                        outputs.MaskOut.GetTensorDataAsSpan<bool>().ToArray(),
                        outputs.WordsOut.GetStringTensorAsArray(),
                        outputs.ScaleOut.GetTensorDataAsSpan<Float16>()[0].ToFloat(), outputs.ScaleOut.GetTensorTypeAndShape().Shape.Length,
                        Array.ConvertAll(bits, b => b.value), outputs.BitsOut.GetTensorTypeAndShape().ElementDataType.ToString(),
                        outputs.ClassOut.GetTensorDataAsSpan<int>().ToArray(),
                    };
                }
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

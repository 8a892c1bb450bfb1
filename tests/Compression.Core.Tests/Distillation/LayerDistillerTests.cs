using System.Runtime.InteropServices;
using Compression.Core.Evaluation;
using Compression.Core.Ir;
using Compression.Core.Passes;
using Compression.Core.Passes.Distillation;
using Compression.Core.Runtime;
using Compression.Core.Settings;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;
using Google.Protobuf;
using Xunit.Abstractions;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Distillation;

/// <summary>
/// Layer-wise distillation's core on real models in ONNX Runtime: the statistics it records against the activations
/// recorded separately, and the least-squares refit of pruned layers of the digits MLP against the original.
/// </summary>
public sealed class LayerDistillerTests(ITestOutputHelper log) : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void The_statistics_are_the_sums_of_the_activations_ONNX_Runtime_gives_with_the_student_changed_before_the_layer()
    {
        PassContext context = DigitsContext(RepositoryPaths.DigitsModel, out _);
        LayerDistiller distiller = LayerDistiller.Create(context)!;
        ModelProto original = context.Model.ToProto().Clone();

        // The student: fc1 pruned (75% of its weights zeroed by magnitude), so fc2's input differs from the teacher's.
        Node fc1 = NodeNamed(context.Model, "fc1_matmul");
        float[] fc1Weight = Weights(fc1);
        float[] pruned = PruneByMagnitude(fc1Weight, 0.75, out _);
        SetWeights(fc1, pruned);

        LayerStatistics statistics = distiller.Record(NodeNamed(context.Model, "fc2_matmul"), withTeacherGram: true);

        float[] images = DigitsTestSet.Load().PixelValues.AsSpan(0, CalibrationRows * DigitsTestSet.Pixels).ToArray();
        float[] teacher = Activation(original, "relu1", images, out int k);
        float[] student = Activation(context.Model.ToProto(), "relu1", images, out _);
        Assert.Equal(256, k);
        Assert.Equal(CalibrationRows, statistics.Rows);
        Assert.Equal(256, statistics.StudentFeatures);
        Assert.Equal(256, statistics.TeacherFeatures);
        Assert.NotEqual(teacher, student);

        AssertClose(Product(student, student, CalibrationRows, k, k), statistics.StudentGram);
        AssertClose(Product(student, teacher, CalibrationRows, k, k), statistics.Cross);
        AssertClose(Product(teacher, teacher, CalibrationRows, k, k), statistics.TeacherGram);
        AssertClose(ColumnSums(student, CalibrationRows, k), statistics.StudentSum);
        AssertClose(ColumnSums(teacher, CalibrationRows, k), statistics.TeacherSum);
        AssertClose(Diagonal(Product(student, student, CalibrationRows, k, k), k), statistics.StudentSumOfSquares());
    }

    [Fact]
    public void An_unchanged_layer_refits_to_its_own_weight_and_a_zero_bias_change()
    {
        PassContext context = DigitsContext(RepositoryPaths.DigitsModel, out _);
        LayerDistiller distiller = LayerDistiller.Create(context)!;
        Node fc2 = NodeNamed(context.Model, "fc2_matmul");
        float[] weight = Weights(fc2);

        LayerStatistics statistics = distiller.Record(fc2, withTeacherGram: true);
        RefitResult plain = LeastSquares.Refit(statistics, weight, 256);
        RefitResult withBias = LeastSquares.Refit(statistics, weight, 256, withBias: true);

        Assert.True(plain.Solved);
        Assert.True(Ort.MaxAbsDifference(weight, plain.Weight) < 1e-4, $"max difference {Ort.MaxAbsDifference(weight, plain.Weight)}");
        Assert.True(Ort.MaxAbsDifference(weight, withBias.Weight) < 1e-4, $"max difference {Ort.MaxAbsDifference(weight, withBias.Weight)}");
        Assert.All(withBias.BiasCorrection!, b => Assert.True(Math.Abs(b) < 1e-4, $"bias change {b}"));
        Assert.True(LeastSquares.OutputError(statistics, weight, 256, plain.Weight) < 1e-9);
    }

    [Fact]
    public void Refitting_each_pruned_layer_in_order_lowers_its_output_error_keeps_the_zeros_and_does_not_lower_accuracy()
    {
        PassContext context = DigitsContext(RepositoryPaths.DigitsModel, out _);
        LayerDistiller distiller = LayerDistiller.Create(context)!;
        ModelProto original = context.Model.ToProto().Clone();
        var layers = new[] { ("fc1_matmul", 64, 256), ("fc2_matmul", 256, 256), ("fc3_matmul", 256, 10) };

        // Plain magnitude pruning of every layer, for comparison.
        Model prunedOnly = Model.FromProto(original.Clone());
        foreach ((string name, _, _) in layers)
        {
            Node node = NodeNamed(prunedOnly, name);
            SetWeights(node, PruneByMagnitude(Weights(node), 0.75, out _));
        }

        foreach ((string name, int k, int n) in layers)
        {
            Node node = NodeNamed(context.Model, name);
            float[] teacherWeight = Weights(node);
            float[] pruned = PruneByMagnitude(teacherWeight, 0.75, out bool[] kept);
            SetWeights(node, pruned);

            LayerStatistics statistics = distiller.Record(node, withTeacherGram: true);
            RefitResult refit = LeastSquares.Refit(statistics, teacherWeight, n, kept);
            double before = LeastSquares.OutputError(statistics, teacherWeight, n, pruned);
            double after = LeastSquares.OutputError(statistics, teacherWeight, n, refit.Weight);
            log.WriteLine($"{name}: relative output error {before:G4} pruned, {after:G4} refit");
            Assert.True(refit.Solved);
            Assert.True(after < before * 0.9, $"{name}: output error {after:G4} after the refit, {before:G4} before");
            for (int i = 0; i < k * n; i++)
            {
                if (!kept[i])
                {
                    Assert.Equal(0f, refit.Weight[i]);
                    Assert.False(float.IsNegative(refit.Weight[i]), "a fixed entry is -0");
                }
            }

            SetWeights(node, refit.Weight);
        }

        double accuracyOriginal = HeldOutAccuracy(original);
        double accuracyPruned = HeldOutAccuracy(prunedOnly.ToProto());
        double accuracyRefit = HeldOutAccuracy(context.Model.ToProto());
        log.WriteLine($"held-out accuracy: {accuracyOriginal:P1} original, {accuracyPruned:P1} pruned 75%, {accuracyRefit:P1} pruned and refit");
        Assert.True(accuracyRefit >= accuracyPruned, $"held-out accuracy {accuracyRefit:P1} refit, {accuracyPruned:P1} pruned ({accuracyOriginal:P1} original)");
        Assert.True(accuracyRefit >= accuracyOriginal - 0.03, $"held-out accuracy {accuracyRefit:P1} refit, {accuracyOriginal:P1} original");
    }

    [Fact]
    public void A_refit_with_a_bias_fits_the_original_outputs_better_than_one_without()
    {
        PassContext context = DigitsContext(RepositoryPaths.DigitsModel, out _);
        LayerDistiller distiller = LayerDistiller.Create(context)!;
        Node fc1 = NodeNamed(context.Model, "fc1_matmul");
        SetWeights(fc1, PruneByMagnitude(Weights(fc1), 0.9, out _));
        Node fc2 = NodeNamed(context.Model, "fc2_matmul");
        float[] teacherWeight = Weights(fc2);
        PruneByMagnitude(teacherWeight, 0.5, out bool[] kept);

        LayerStatistics statistics = distiller.Record(fc2, withTeacherGram: true);
        RefitResult plain = LeastSquares.Refit(statistics, teacherWeight, 256, kept);
        RefitResult biased = LeastSquares.Refit(statistics, teacherWeight, 256, kept, withBias: true);

        double plainError = LeastSquares.OutputError(statistics, teacherWeight, 256, plain.Weight);
        double biasedError = LeastSquares.OutputError(statistics, teacherWeight, 256, biased.Weight, biased.BiasCorrection);
        log.WriteLine($"fc2 after fc1 pruned 90%: {plainError:G4} refit without bias, {biasedError:G4} with");
        Assert.True(biasedError < plainError, $"with a bias {biasedError:G4}, without {plainError:G4}");
        Assert.Contains(biased.BiasCorrection!, b => Math.Abs(b) > 1e-4);
    }

    [Theory]
    [InlineData("NOTSET", 1, 1, 1)]
    [InlineData("NOTSET", 2, 2, 1)]
    [InlineData("SAME_UPPER", 2, 1, 1)]
    [InlineData("SAME_LOWER", 2, 1, 1)]
    [InlineData("VALID", 1, 1, 2)]
    public void Conv_patches_give_the_statistics_of_a_direct_im2col_and_the_outputs_ONNX_Runtime_computes(string autoPad, int stride, int dilation, int strideW)
    {
        const int batch = 3, channels = 3, height = 7, width = 6, outputs = 4;
        float[] weight = SeededValues.Uniform(11, outputs * channels * 3 * 2, 0.5f);
        var attributes = new List<AttributeProto>
        {
            Attributes.Ints("kernel_shape", 3, 2),
            Attributes.Ints("strides", stride, strideW),
            Attributes.Ints("dilations", dilation, 1),
        };
        long[] pads = autoPad == "NOTSET" ? [1, 0, 2, 1] : [0, 0, 0, 0];
        if (autoPad == "NOTSET")
        {
            attributes.Add(Attributes.Ints("pads", pads));
        }
        else
        {
            attributes.Add(Attributes.String("auto_pad", autoPad));
        }

        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, "batch", channels, height, width)
            .Output("y", DataType.Float)
            .Initializer("w", [outputs, channels, 3, 2], weight)
            .Node("Conv", ["x", "w"], ["y"], [.. attributes])
            .Build();
        model.Graph.Node[0].Name = "conv";
        string path = folder.File("conv.onnx");
        File.WriteAllBytes(path, OnnxModelFile.ToBytes(model));
        float[] input = SeededValues.Uniform(12, batch * channels * height * width);
        string data = folder.File("conv-data");
        Directory.CreateDirectory(data);
        NumPyWriter.Write<float>(Path.Combine(data, "x.npy"), input, batch, channels, height, width);

        PassContext context = Context(path, data);
        LayerDistiller distiller = LayerDistiller.Create(context)!;
        LayerStatistics statistics = distiller.Record(NodeNamed(context.Model, "conv"), withTeacherGram: true);

        // ONNX Runtime's output: its size says the rows; its sums and squares are what the patches and the weight give.
        OnnxTensor<float> y = Ort.Run(OnnxModelFile.ToBytes(model), new Dictionary<string, OnnxTensor> { ["x"] = OnnxTensor.FromArray(input, batch, channels, height, width) })["y"].As<float>();
        int outH = (int)y.Shape[2], outW = (int)y.Shape[3];
        int features = channels * 3 * 2;
        Assert.Equal(batch * outH * outW, statistics.Rows);
        Assert.Equal(features, statistics.StudentFeatures);

        // A direct im2col, written here apart from the recorder's.
        (int padTop, int padLeft) = autoPad switch
        {
            "NOTSET" => (1, 0),
            "VALID" => (0, 0),
            _ => (Pad(height, outH, stride, 3, dilation, autoPad), Pad(width, outW, strideW, 2, 1, autoPad)),
        };
        var patches = new float[batch * outH * outW * features];
        for (int b = 0, row = 0; b < batch; b++)
        {
            for (int oy = 0; oy < outH; oy++)
            {
                for (int ox = 0; ox < outW; ox++, row++)
                {
                    for (int c = 0, f = 0; c < channels; c++)
                    {
                        for (int ky = 0; ky < 3; ky++)
                        {
                            for (int kx = 0; kx < 2; kx++, f++)
                            {
                                int yy = (oy * stride) - padTop + (ky * dilation), xx = (ox * strideW) - padLeft + kx;
                                patches[(row * features) + f] = yy >= 0 && yy < height && xx >= 0 && xx < width
                                    ? input[(((b * channels) + c) * height * width) + (yy * width) + xx] : 0;
                            }
                        }
                    }
                }
            }
        }

        int rows = batch * outH * outW;
        AssertClose(Product(patches, patches, rows, features, features), statistics.StudentGram);
        AssertClose(ColumnSums(patches, rows, features), statistics.StudentSum);

        // W^T [features, outputs]: |X W^T|^2 and its column sums are ONNX Runtime's output's squares and sums.
        var weightT = new float[features * outputs];
        for (int o = 0; o < outputs; o++)
        {
            for (int f = 0; f < features; f++)
            {
                weightT[(f * outputs) + o] = weight[(o * features) + f];
            }
        }

        double squares = 0;
        foreach (float v in y.Span)
        {
            squares += (double)v * v;
        }

        var zero = new float[features * outputs];
        double fromStatistics = LeastSquares.OutputError(statistics, weightT, outputs, zero); // |0 - X W|^2 / |X W|^2 = 1, so:
        Assert.Equal(1, fromStatistics, 9);
        double gramSquares = 0;
        for (int o = 0; o < outputs; o++)
        {
            for (int i = 0; i < features; i++)
            {
                for (int j = 0; j < features; j++)
                {
                    gramSquares += weightT[(i * outputs) + o] * statistics.StudentGram[(i * features) + j] * weightT[(j * outputs) + o];
                }
            }
        }

        Assert.Equal(squares, gramSquares, squares * 1e-5);
    }

    [Fact]
    public void On_the_digits_CNN_a_Conv_after_a_pruned_Conv_records_patches_whose_sums_are_ONNX_Runtimes_outputs()
    {
        PassContext context = DigitsContext(RepositoryPaths.DigitsCnnModel, out _);
        LayerDistiller distiller = LayerDistiller.Create(context)!;
        Node conv1 = NodeNamed(context.Model, "/conv1/Conv");
        SetWeights(conv1, PruneByMagnitude(Weights(conv1), 0.5, out _));
        Node conv2 = NodeNamed(context.Model, "/conv2/Conv");

        LayerStatistics statistics = distiller.Record(conv2, withTeacherGram: true);

        Assert.Equal(32 * 9, statistics.StudentFeatures);
        Assert.Equal(32 * 9, statistics.TeacherFeatures);
        Assert.Equal(CalibrationRows * 8 * 8, statistics.Rows);

        // The student's conv2 output (before its bias), summed over every row, is the patches' sums times the weight.
        float[] images = DigitsTestSet.Load().PixelValues.AsSpan(0, CalibrationRows * DigitsTestSet.Pixels).ToArray();
        ModelProto student = context.Model.ToProto().Clone();
        float[] output = Activation(student, "/conv2/Conv_output_0", images, out _, channelsLast: false);
        float[] weight = Weights(conv2);
        float[] bias = TensorConversion.ToOnnxTensor(conv2.Inputs[2]!.LoadInitializer()).As<float>().ToArray();
        int features = 32 * 9;
        for (int o = 0; o < 64; o++)
        {
            double expected = 0;
            for (int f = 0; f < features; f++)
            {
                expected += statistics.StudentSum[f] * weight[(o * features) + f];
            }

            double actual = 0;
            for (int s = 0; s < CalibrationRows; s++)
            {
                for (int p = 0; p < 64; p++)
                {
                    actual += output[(((s * 64) + o) * 64) + p] - bias[o];
                }
            }

            Assert.Equal(expected, actual, Math.Max(1e-3, Math.Abs(expected) * 1e-4));
        }

        // And the refit of a 75%-pruned conv2 (its weight as [K, N]) fits the teacher's outputs better than the pruned weight.
        var teacherT = Transposed(weight, 64, features);
        float[] prunedT = PruneByMagnitude(teacherT, 0.75, out bool[] kept);
        RefitResult refit = LeastSquares.Refit(statistics, teacherT, 64, kept, withBias: true);
        double before = LeastSquares.OutputError(statistics, teacherT, 64, prunedT);
        double after = LeastSquares.OutputError(statistics, teacherT, 64, refit.Weight, refit.BiasCorrection);
        log.WriteLine($"conv2 pruned 75%: relative output error {before:G4} pruned, {after:G4} refit with bias");
        Assert.True(after < before * 0.8, $"conv2: {after:G4} after, {before:G4} before");
    }

    [Fact]
    public void Recording_and_refitting_twice_gives_the_same_bits_and_RecordMany_gives_what_Record_gives()
    {
        PassContext context = DigitsContext(RepositoryPaths.DigitsModel, out _);
        LayerDistiller distiller = LayerDistiller.Create(context)!;
        Node fc1 = NodeNamed(context.Model, "fc1_matmul");
        SetWeights(fc1, PruneByMagnitude(Weights(fc1), 0.5, out _));
        Node fc2 = NodeNamed(context.Model, "fc2_matmul");
        Node fc3 = NodeNamed(context.Model, "fc3_matmul");
        float[] weight = Weights(fc2);
        PruneByMagnitude(weight, 0.75, out bool[] kept);

        LayerStatistics first = distiller.Record(fc2);
        IReadOnlyList<LayerStatistics> both = distiller.RecordMany([fc2, fc3]);
        Assert.Equal(first.StudentGram.ToArray(), both[0].StudentGram.ToArray());
        Assert.Equal(first.Cross.ToArray(), both[0].Cross.ToArray());
        Assert.Equal(256, both[1].StudentFeatures);

        RefitResult a = LeastSquares.Refit(first, weight, 256, kept, withBias: true);
        RefitResult b = LeastSquares.Refit(both[0], weight, 256, kept, withBias: true);
        Assert.Equal(MemoryMarshal.AsBytes(a.Weight.AsSpan()).ToArray(), MemoryMarshal.AsBytes(b.Weight.AsSpan()).ToArray());
        Assert.Equal(a.BiasCorrection, b.BiasCorrection);
        RefitResult c = LeastSquares.Refit(first, weight, 256);
        RefitResult d = LeastSquares.Refit(both[0], weight, 256);
        Assert.Equal(c.Weight, d.Weight);
    }

    [Fact]
    public void Without_calibration_data_there_is_no_distiller_and_unsupported_layers_say_why()
    {
        var settings = SettingsResolver.Resolve(CompressionSettings.Default, RepositoryPaths.DigitsModel);
        var bare = new PassContext(Model.Load(RepositoryPaths.DigitsModel), settings, RepositoryPaths.DigitsModel);
        Assert.Null(LayerDistiller.Create(bare));
        Assert.False(LayerDistiller.MayRun(bare));

        ModelProto grouped = new ModelBuilder()
            .Input("x", DataType.Float, 1, 4, 5, 5)
            .Output("y", DataType.Float)
            .Initializer("w", [4, 2, 3, 3], SeededValues.Uniform(3, 72))
            .Node("Conv", ["x", "w"], ["y"], Attributes.Int("group", 2))
            .Build();
        string path = folder.File("grouped.onnx");
        File.WriteAllBytes(path, OnnxModelFile.ToBytes(grouped));
        string data = folder.File("grouped-data");
        Directory.CreateDirectory(data);
        NumPyWriter.Write<float>(Path.Combine(data, "x.npy"), SeededValues.Uniform(4, 100), 1, 4, 5, 5);
        PassContext context = Context(path, data);
        LayerDistiller distiller = LayerDistiller.Create(context)!;
        Assert.True(LayerDistiller.MayRun(context));
        Node conv = context.Model.Graph.Nodes.Single();
        Assert.True(distiller.Enabled(conv));
        Assert.Equal("distillation refits Conv with group 1, not group 2", distiller.Unsupported(conv));
        Assert.Throws<ArgumentException>(() => distiller.Record(conv));
    }

    private const int CalibrationRows = 180;

    private PassContext DigitsContext(string modelPath, out string calibration)
    {
        DigitsTestSet testSet = DigitsTestSet.Load();
        calibration = folder.File("calibration");
        if (!Directory.Exists(calibration))
        {
            Directory.CreateDirectory(calibration);
            NumPyWriter.Write<float>(Path.Combine(calibration, "pixels.npy"), testSet.PixelValues.AsSpan(0, CalibrationRows * DigitsTestSet.Pixels), CalibrationRows, DigitsTestSet.Pixels);
        }

        return Context(modelPath, calibration);
    }

    private static PassContext Context(string modelPath, string calibration)
    {
        CompressionSettings settings = CompressionSettings.Default.Set(EvaluationSettings.CalibrationData, calibration);
        Model model = Model.Load(modelPath);
        ModelProto proto = model.ToProto();
        return new PassContext(model, SettingsResolver.Resolve(settings, modelPath), modelPath)
        {
            CalibrationSource = () => SampleSet.Load(calibration, ModelInterface.Inputs(proto), modelPath, EvaluationSettings.CalibrationData),
        };
    }

    private static Node NodeNamed(Model model, string name) => model.Graph.Nodes.Single(n => n.Name == name);

    private static float[] Weights(Node node) => TensorConversion.ToOnnxTensor(node.Inputs[1]!.LoadInitializer()).As<float>().ToArray();

    private static void SetWeights(Node node, float[] values)
    {
        TensorProto tensor = node.Inputs[1]!.LoadInitializer();
        tensor.FloatData.Clear();
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
    }

    /// <summary>Zeroes the <paramref name="share"/> of smallest magnitude; <paramref name="kept"/> marks the others.</summary>
    private static float[] PruneByMagnitude(float[] weights, double share, out bool[] kept)
    {
        int count = (int)(weights.Length * share);
        int[] order = Enumerable.Range(0, weights.Length).OrderBy(i => Math.Abs(weights[i])).ThenBy(i => i).ToArray();
        kept = Enumerable.Repeat(true, weights.Length).ToArray();
        float[] pruned = (float[])weights.Clone();
        for (int i = 0; i < count; i++)
        {
            kept[order[i]] = false;
            pruned[order[i]] = 0;
        }

        return pruned;
    }

    private static float[] Transposed(float[] matrix, int rows, int columns)
    {
        var result = new float[matrix.Length];
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < columns; j++)
            {
                result[(j * rows) + i] = matrix[(i * columns) + j];
            }
        }

        return result;
    }

    /// <summary>Runs <paramref name="model"/> on <paramref name="images"/> with <paramref name="value"/> exposed as an output.</summary>
    private static float[] Activation(ModelProto model, string value, float[] images, out int features, bool channelsLast = true)
    {
        ModelProto exposed = model.Clone();
        exposed.Graph.Output.Add(new ValueInfoProto { Name = value });
        int rows = images.Length / DigitsTestSet.Pixels;
        OnnxTensor<float> result = Ort.Run(OnnxModelFile.ToBytes(exposed), new Dictionary<string, OnnxTensor> { ["pixels"] = OnnxTensor.FromArray(images, rows, DigitsTestSet.Pixels) })[value].As<float>();
        features = channelsLast ? (int)result.Shape[^1] : (int)result.Shape[1];
        return result.ToArray();
    }

    private static double HeldOutAccuracy(ModelProto model)
    {
        DigitsTestSet testSet = DigitsTestSet.Load();
        int rows = testSet.Count - CalibrationRows;
        float[] images = testSet.PixelValues.AsSpan(CalibrationRows * DigitsTestSet.Pixels).ToArray();
        float[] logits = Ort.Run(OnnxModelFile.ToBytes(model), new Dictionary<string, OnnxTensor> { ["pixels"] = OnnxTensor.FromArray(images, rows, DigitsTestSet.Pixels) })["logits"].As<float>().ToArray();
        int correct = 0;
        for (int i = 0; i < rows; i++)
        {
            ReadOnlySpan<float> row = logits.AsSpan(i * 10, 10);
            int predicted = 0;
            for (int c = 1; c < 10; c++)
            {
                predicted = row[c] > row[predicted] ? c : predicted;
            }

            correct += predicted == testSet.Labels[CalibrationRows + i] ? 1 : 0;
        }

        return (double)correct / rows;
    }

    private static int Pad(int input, int output, int stride, int kernel, int dilation, string autoPad)
    {
        int total = Math.Max(0, ((output - 1) * stride) + ((kernel - 1) * dilation) + 1 - input);
        return autoPad == "SAME_UPPER" ? total / 2 : total - (total / 2);
    }

    private static double[] Product(float[] left, float[] right, int rows, int kl, int kr)
    {
        var result = new double[kl * kr];
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < kl; i++)
            {
                double a = left[(r * kl) + i];
                if (a == 0)
                {
                    continue;
                }

                for (int j = 0; j < kr; j++)
                {
                    result[(i * kr) + j] += a * right[(r * kr) + j];
                }
            }
        }

        return result;
    }

    private static double[] ColumnSums(float[] matrix, int rows, int k)
    {
        var sums = new double[k];
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < k; i++)
            {
                sums[i] += matrix[(r * k) + i];
            }
        }

        return sums;
    }

    private static double[] Diagonal(double[] matrix, int k) => Enumerable.Range(0, k).Select(i => matrix[(i * k) + i]).ToArray();

    private static void AssertClose(double[] expected, ReadOnlySpan<double> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-9 * Math.Max(1, scale), $"element {i}: {actual[i]} against {expected[i]}");
        }
    }
}

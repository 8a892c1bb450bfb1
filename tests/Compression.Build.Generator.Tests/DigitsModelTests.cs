namespace Compression.Build.Generator.Tests;

/// <summary>The class generated for the Digits sample runs the sample's model in ONNX Runtime.</summary>
public class DigitsModelTests(DigitsApp app) : IClassFixture<DigitsApp>
{
    private static string Model => RepositoryPaths.DigitsModel;

    [Fact]
    public void App_with_the_generated_class_builds_without_warnings()
    {
        app.Run.AssertCleanBuild();
        Assert.Equal(["Sample.App.Digits.g.cs"], app.Run.HintNames);
    }

    [Fact]
    public void Run_classifies_most_test_digits_correctly()
    {
        float[][] results = app.Call<float[][]>("Classify", Model, app.Pixels);
        float[] logits = results[0];
        int rows = app.Labels.Length;

        Assert.Equal([rows, 10f], results[3]);
        int[] predictions = Enumerable.Range(0, rows).Select(row => ArgMax(logits.AsSpan(row * 10, 10))).ToArray();
        int correct = predictions.Zip(app.Labels).Count(pair => pair.First == pair.Second);
        Assert.True(correct >= rows * 0.9, $"Only {correct} of {rows} digits were classified correctly.");
    }

    [Fact]
    public void Array_and_tensor_overloads_give_the_same_outputs()
    {
        float[][] results = app.Call<float[][]>("Classify", Model, app.Pixels);

        Assert.Equal(results[0], results[1]);
    }

    [Fact]
    public void Probabilities_output_is_a_distribution_per_row()
    {
        float[] probabilities = app.Call<float[][]>("Classify", Model, app.Pixels)[2];

        for (int row = 0; row < app.Labels.Length; row++)
        {
            Assert.Equal(1.0, probabilities.AsSpan(row * 10, 10).ToArray().Sum(), 4);
        }
    }

    [Fact]
    public void Parameterless_constructor_loads_the_model_from_ModelPath_in_the_app_folder()
    {
        Assert.Equal(DigitsApp.ModelPath, app.Call<string>("ModelPathConstant"));

        float[] logits = app.Call<float[]>("ClassifyFromAppFolder", app.Pixels);

        Assert.Equal(app.Call<float[][]>("Classify", Model, app.Pixels)[0], logits);
    }

    [Fact]
    public void Constructor_with_options_takes_the_callers_options_with_an_extra_session_entry()
    {
        float[] logits = app.Call<float[]>("ClassifyWithOptions", Model, app.Pixels);

        Assert.Equal(app.Call<float[][]>("Classify", Model, app.Pixels)[0], logits);
    }

    [Fact]
    public void RunAsync_gives_the_same_outputs_as_Run()
    {
        Assert.Equal(app.Call<float[][]>("Classify", Model, app.Pixels)[0], app.Call<float[]>("ClassifyAsync", Model, app.Pixels));
    }

    [Fact]
    public void RunAsync_with_a_cancelled_token_is_cancelled()
    {
        Assert.True(app.Call<bool>("RunAsyncCancelledBeforeStart", Model, app.Pixels));
    }

    [Fact]
    public void A_binding_writes_into_the_callers_buffers_and_allocates_nothing_per_run()
    {
        object[] results = app.Call<object[]>("ClassifyBound", Model, app.Pixels);
        float[] logitsOfZeros = (float[])results[0];
        float[] logits = (float[])results[1];
        long allocated = (long)results[2];

        Assert.Equal(app.Call<float[][]>("Classify", Model, app.Pixels)[0], logits);
        Assert.NotEqual(logitsOfZeros, logits);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void A_binding_refuses_an_output_of_the_wrong_shape()
    {
        Assert.Equal("probabilities: Output 'probabilities' must have shape [batch, 10]; got [1, 9]. (Parameter 'probabilities')", app.Call<string>("BindWrongOutput", Model));
    }

    [Fact]
    public void A_value_of_the_wrong_element_type_is_rejected_naming_the_input()
    {
        Assert.Equal("pixels: Input 'pixels' must hold float elements; got Double. (Parameter 'pixels')", app.Call<string>("RunWrongElementType", Model));
    }

    [Fact]
    public void A_missing_model_file_throws_FileNotFoundException()
    {
        string missing = Path.Combine(Path.GetTempPath(), "no-such-model.onnx");

        Assert.Equal(missing, app.Call<string>("MissingModel", missing));
    }

    [Theory]
    [InlineData(new long[] { 2, 63 }, "[2, 63]")]
    [InlineData(new long[] { 128 }, "[128]")]
    [InlineData(new long[] { 1, 2, 64 }, "[1, 2, 64]")]
    public void Tensor_of_the_wrong_shape_is_rejected_naming_the_input_and_its_shape(long[] shape, string given)
    {
        var error = Assert.Throws<ArgumentException>(() => app.Call<int>("RunTensor", Model, shape));

        Assert.Equal("pixels", error.ParamName);
        Assert.StartsWith($"Input 'pixels' must have shape [batch, 64]; got {given}.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tensor_with_any_batch_size_is_accepted()
    {
        Assert.Equal(2, app.Call<int>("RunTensor", Model, new long[] { 3, 64 }));
        Assert.Equal(2, app.Call<int>("RunTensor", Model, new long[] { 0, 64 }));
    }

    [Fact]
    public void Array_whose_length_is_not_a_multiple_of_64_is_rejected()
    {
        var error = Assert.Throws<ArgumentException>(() => app.Call<int>("RunArray", Model, new float[130]));

        Assert.Equal("pixels", error.ParamName);
        Assert.Contains("Input 'pixels' must have shape [batch, 64]; got 130 elements", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Null_inputs_are_rejected()
    {
        Assert.Equal("pixels", Assert.Throws<ArgumentNullException>(() => app.Call<int>("RunArray", Model, null)).ParamName);
        Assert.Equal("pixels", Assert.Throws<ArgumentNullException>(() => app.Call<int>("RunNullTensor", Model)).ParamName);
    }

    [Fact]
    public void Disposed_model_cannot_run()
    {
        Assert.True(app.Call<bool>("DisposeThenRun", Model, app.Pixels));
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }
}

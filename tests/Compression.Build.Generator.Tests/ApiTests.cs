using Microsoft.CodeAnalysis;

namespace Compression.Build.Generator.Tests;

/// <summary>
/// The generated API beyond one input with one open dimension, run in ONNX Runtime: several open dimensions, optional
/// inputs, outputs' shapes and views, every integer width, batches of samples, a model embedded in the assembly, and
/// one instance run from many threads and disposed while runs are under way.
/// </summary>
public class ApiTests(ApiApp app) : IClassFixture<ApiApp>
{
    private static readonly long[] Tokens = [1, 2, 3, 4, 5, 6];
    private static readonly long[] Mask = [10, 20, 30, 40, 50, 60];

    [Fact]
    public void App_with_the_generated_classes_builds_without_warnings()
    {
        app.Run.AssertCleanBuild();
        Assert.Equal(["Sample.App.EmbeddedDigits.g.cs", "Sample.App.Tokens.g.cs", "Sample.App.Widths.g.cs"], app.Run.HintNames);
    }

    [Fact]
    public void The_compressors_signature_lists_an_initializer_input_as_optional()
    {
        Assert.Contains("optional-input\toffset\tint64\t1\t1\n", app.TokensSignature, StringComparison.Ordinal);
        Assert.DoesNotContain("\ninput\toffset", app.TokensSignature, StringComparison.Ordinal);
    }

    [Fact]
    public void Inputs_with_two_open_dimensions_get_an_overload_with_the_sizes_named_after_the_models_dimensions()
    {
        INamedTypeSymbol type = app.Run.Type("Sample.App.Tokens");

        Assert.Equal(
            [
                "Run(OrtValue tokens, OrtValue mask, OrtValue? offset)",
                "Run(long[] tokens, long[] mask, int batch, int sequence)",
            ],
            type.GetMembers("Run").OfType<IMethodSymbol>().Select(Describe).Order(StringComparer.Ordinal));
        Assert.Equal(
            "Bind(OrtValue tokens, OrtValue mask, OrtValue sum, OrtValue? offset)",
            Describe(type.GetMembers("Bind").OfType<IMethodSymbol>().Single()));
        Assert.Empty(type.GetMembers("RunBatch"));
    }

    [Fact]
    public void The_shaped_overload_runs_and_the_output_reads_through_its_shape_and_view()
    {
        object[] results = app.Call<object[]>("RunShaped", app.TokensModel, Tokens, Mask, 2, 3);

        Assert.Equal(new long[] { 2, 3 }, results[0]);
        Assert.Equal(new long[] { 111, 122, 133, 144, 155, 166 }, results[1]);
        Assert.Equal(166L, results[2]);
        Assert.Equal(new long[] { 144, 155, 166 }, results[3]);
        Assert.Equal(2, results[4]);
        Assert.Equal(new long[] { 111, 122, 133, 144, 155, 166 }, app.Call<long[]>("RunAsyncShaped", app.TokensModel, Tokens, Mask, 3, 2));
    }

    [Fact]
    public void The_shaped_overload_refuses_arrays_that_do_not_fit_the_sizes_and_negative_sizes()
    {
        var error = Assert.Throws<ArgumentException>(() => app.Call<object[]>("RunShaped", app.TokensModel, Tokens, Mask, 2, 2));
        Assert.Equal("tokens", error.ParamName);
        Assert.StartsWith("Input 'tokens' must have shape [batch, sequence] = [2, 2], 4 elements; got 6 elements.", error.Message, StringComparison.Ordinal);

        var negative = Assert.Throws<ArgumentOutOfRangeException>(() => app.Call<object[]>("RunShaped", app.TokensModel, Tokens, Mask, -2, -3));
        Assert.Equal("batch", negative.ParamName);
        Assert.StartsWith("The size of dimension batch must be 0 or more.", negative.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_optional_input_left_out_takes_the_models_default_and_one_given_replaces_it()
    {
        Assert.Equal(new long[] { 111, 122, 133, 144 }, app.Call<long[]>("RunWithOffset", app.TokensModel, null));
        Assert.Equal(new long[] { 4, 15, 26, 37 }, app.Call<long[]>("RunWithOffset", app.TokensModel, new long[] { -7 }));
    }

    [Fact]
    public void An_optional_input_is_checked_against_its_shape_when_given()
    {
        Assert.Equal(
            "offset: Input 'offset' must have shape [1]; got [2]. (Parameter 'offset')",
            app.Call<string>("RunWithWrongOffset", app.TokensModel));
    }

    [Fact]
    public void Bindings_with_and_without_an_optional_input_write_the_callers_buffers_and_allocate_nothing_per_run()
    {
        object[] results = app.Call<object[]>("BindTokens", app.TokensModel);

        Assert.Equal(new long[] { 101, 102, 103, 104, 105, 106 }, results[0]);
        Assert.Equal(new long[] { 0, 1, 2, 3, 4, 5 }, results[1]);
        Assert.Equal(0L, results[2]);
    }

    [Fact]
    public void Every_integer_width_and_floating_type_round_trips_through_arrays_and_views()
    {
        object[] outputs = app.Call<object[]>("RunWidths", app.WidthsModel);

        Assert.Equal(new sbyte[] { sbyte.MinValue, -1, 0, sbyte.MaxValue }, outputs[0]);
        Assert.Equal(new byte[] { 0, 1, 254, byte.MaxValue }, outputs[1]);
        Assert.Equal(new short[] { short.MinValue, -1, 1, short.MaxValue }, outputs[2]);
        Assert.Equal(new ushort[] { 0, 1, 2, ushort.MaxValue }, outputs[3]);
        Assert.Equal(new[] { int.MinValue, -1, 1, int.MaxValue }, outputs[4]);
        Assert.Equal(new uint[] { 0, 1, 2, uint.MaxValue }, outputs[5]);
        Assert.Equal(new[] { long.MinValue, -1, 1, long.MaxValue }, outputs[6]);
        Assert.Equal(new ulong[] { 0, 1, 2, ulong.MaxValue }, outputs[7]);
        Assert.Equal(new[] { float.MinValue, -0.5f, float.Epsilon, float.MaxValue }, outputs[8]);
        Assert.Equal(new[] { double.MinValue, -0.5, double.Epsilon, double.MaxValue }, outputs[9]);
        Assert.Equal(new[] { true, false, false, true }, outputs[10]);
        Assert.Equal(new[] { -2f, 0.5f, 1f, 65504f }, outputs[11]);
        Assert.Equal(new long[] { 2, 2 }, outputs[12]);
        Assert.Equal(ulong.MaxValue, outputs[13]);
    }

    [Fact]
    public void RunBatch_joins_samples_into_one_batch_whose_entries_are_the_samples_results()
    {
        object[] results = app.Call<object[]>("RunWidthsBatch", app.WidthsModel, 2);

        Assert.Equal(new long[] { 3, 2 }, results[0]);
        Assert.Equal(new[] { 4, 5 }, results[1]);
        Assert.Equal(new[] { 0.0, 1.0 }, results[2]);
    }

    [Fact]
    public void RunBatch_refuses_a_sample_of_the_wrong_length_naming_the_input_and_the_sample()
    {
        var error = Assert.Throws<ArgumentException>(() => app.Call<object[]>("RunWidthsBatch", app.WidthsModel, 3));

        Assert.Equal("inInt8", error.ParamName);
        Assert.StartsWith("Input 'in_int8' must have shape [batch, 2]; sample 1 holds 3 elements, not 2.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_view_indexed_with_the_wrong_number_of_indices_says_the_shape()
    {
        Assert.Equal("The tensor has shape [2, 2]: index it with 2 indices, not 1.", app.Call<string>("ViewWithTooFewIndices", app.TokensModel));
    }

    [Fact]
    public void An_embedded_model_loads_from_the_assemblys_resource_with_the_results_of_the_file()
    {
        float[] fromFile = app.Call<float[]>("ClassifyFromFile", RepositoryPaths.DigitsModel, app.Pixels);

        Assert.Equal("Compression.Build/Models/digits.onnx", app.Call<string>("ResourceName"));
        Assert.Equal(fromFile, app.Call<float[]>("ClassifyEmbedded", app.Pixels));
        Assert.Equal(fromFile, app.Call<float[]>("ClassifyEmbeddedWithOptions", app.Pixels));
    }

    [Fact]
    public void An_embedded_model_missing_from_the_assembly_is_a_FileNotFoundException_naming_the_resource()
    {
        var error = Assert.Throws<FileNotFoundException>(() => GeneratorRun.Call<float[]>(app.WithoutResource, "Probe.ApiProbe", "ClassifyEmbedded", app.Pixels));

        Assert.Equal("Compression.Build/Models/digits.onnx", error.FileName);
        Assert.Contains("has no resource 'Compression.Build/Models/digits.onnx'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Runs_from_many_threads_on_one_instance_give_the_sequential_results()
    {
        int[] counts = app.Call<int[]>("RunConcurrently", app.Pixels, 8, 3);

        Assert.Equal(8 * 3 * (app.Pixels.Length / 64), counts[0]);
        Assert.Equal(0, counts[1]);
    }

    [Fact]
    public void Dispose_while_runs_are_under_way_lets_them_finish_and_refuses_later_runs()
    {
        int[] counts = app.Call<int[]>("DisposeWhileRunning", app.Pixels, 6);

        Assert.True(counts[0] >= 6 * 20, $"Only {counts[0]} runs completed before Dispose.");
        Assert.Equal(0, counts[1]);
        Assert.Equal(6, counts[2]);
        Assert.Equal(0, counts[3]);
        Assert.Equal(1, counts[4]);
    }

    private static string Describe(IMethodSymbol method) =>
        method.Name + "(" + string.Join(", ", method.Parameters.Select(p => p.Type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat.AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier)) + " " + p.Name)) + ")";
}

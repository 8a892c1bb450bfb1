using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Compression.Build.Generator.Tests;

/// <summary>
/// One run of <see cref="OnnxModelGenerator"/> through <see cref="CSharpGeneratorDriver"/> over an app's compilation,
/// as the compiler runs it during a build: signature files as additional files, item metadata and the root namespace
/// as analyzer config options, step tracking on.
/// </summary>
internal sealed class GeneratorRun
{
    public const string DefaultRootNamespace = "Sample.App";

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(LoadReferences);

    private readonly ImmutableDictionary<string, AdditionalText> additionalTexts;

    private GeneratorRun(
        GeneratorDriver driver,
        CSharpCompilation input,
        Compilation output,
        ImmutableArray<Diagnostic> diagnostics,
        ImmutableDictionary<string, AdditionalText> additionalTexts)
    {
        this.additionalTexts = additionalTexts;
        Driver = driver;
        Input = input;
        Output = output;
        Diagnostics = diagnostics;
        Result = Assert.Single(driver.GetRunResult().Results);
    }

    /// <summary>The driver, holding the generator's state for the next run.</summary>
    public GeneratorDriver Driver { get; }

    /// <summary>The app's compilation before generation.</summary>
    public CSharpCompilation Input { get; }

    /// <summary>The app's compilation with the generated sources.</summary>
    public Compilation Output { get; }

    /// <summary>The diagnostics the generator reported.</summary>
    public ImmutableArray<Diagnostic> Diagnostics { get; }

    /// <summary>The generator's result, with the tracked steps.</summary>
    public GeneratorRunResult Result { get; }

    /// <summary>The generated files' hint names, sorted.</summary>
    public string[] HintNames => Result.GeneratedSources.Select(source => source.HintName).Order(StringComparer.Ordinal).ToArray();

    /// <summary>The symbols the SDK defines for an app on .NET 8, the oldest .NET the generated code must compile for.</summary>
    public static readonly string[] Net8Symbols = ["NET", "NETCOREAPP", "NET5_0_OR_GREATER", "NET6_0_OR_GREATER", "NET7_0_OR_GREATER", "NET8_0_OR_GREATER", "NET8_0"];

    /// <summary>C# 10, the oldest language version the generated code must compile with, with documentation comments checked,
    /// and the preprocessor symbols of an app's target framework (.NET 8's unless told).</summary>
    public static CSharpParseOptions ParseOptions(LanguageVersion version = LanguageVersion.CSharp10, string[]? preprocessorSymbols = null) =>
        new(version, DocumentationMode.Diagnose, preprocessorSymbols: preprocessorSymbols ?? Net8Symbols);

    /// <summary>Runs the generator over an app made of <paramref name="userSources"/> with the given signature files.</summary>
    public static GeneratorRun Start(
        IEnumerable<Sidecar> sidecars,
        string? rootNamespace = DefaultRootNamespace,
        LanguageVersion languageVersion = LanguageVersion.CSharp10,
        string[]? preprocessorSymbols = null,
        params string[] userSources)
    {
        Sidecar[] files = sidecars.ToArray();
        CSharpParseOptions parseOptions = ParseOptions(languageVersion, preprocessorSymbols);
        CSharpCompilation compilation = CSharpCompilation.Create(
            "GeneratedModels" + Guid.NewGuid().ToString("N"),
            userSources.Select((source, i) => CSharpSyntaxTree.ParseText(source, parseOptions, path: $"/app/User{i}.cs")),
            References.Value,
            new CSharpCompilationOptions(
                OutputKind.DynamicallyLinkedLibrary,
                nullableContextOptions: NullableContextOptions.Enable,
                warningLevel: 9999,
                deterministic: true,
                // The SDK suppresses these two by default: they only say that assembly versions were unified.
                specificDiagnosticOptions: new Dictionary<string, ReportDiagnostic>
                {
                    ["CS1701"] = ReportDiagnostic.Suppress,
                    ["CS1702"] = ReportDiagnostic.Suppress,
                }));

        var globalOptions = ImmutableDictionary<string, string>.Empty;
        if (rootNamespace is not null)
        {
            globalOptions = globalOptions.Add("build_property.RootNamespace", rootNamespace);
        }

        var fileOptions = ImmutableDictionary<string, ImmutableDictionary<string, string>>.Empty;
        foreach (Sidecar file in files.DistinctBy(file => file.Path))
        {
            fileOptions = fileOptions.Add(file.Path, file.Metadata());
        }

        AdditionalText[] texts = files.Select(file => file.ToAdditionalText()).ToArray();
        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            [new OnnxModelGenerator().AsSourceGenerator()],
            texts,
            parseOptions,
            new TestAnalyzerConfigOptionsProvider(globalOptions, fileOptions),
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        return Run(driver, compilation, texts.DistinctBy(text => text.Path).ToImmutableDictionary(text => text.Path));
    }

    /// <summary>Runs the same driver again over a changed compilation, as the compiler does after an edit of the app's code.</summary>
    public GeneratorRun RunAgain(Func<CSharpCompilation, CSharpCompilation> changeCompilation) =>
        Run(Driver, changeCompilation(Input), additionalTexts);

    /// <summary>Runs the same driver again after the additional file at <paramref name="path"/> got new content.</summary>
    public GeneratorRun RunAgainWithChangedFile(string path, string text)
    {
        AdditionalText replacement = new InMemoryAdditionalText(path, text);
        GeneratorDriver driver = Driver.ReplaceAdditionalText(additionalTexts[path], replacement);
        return Run(driver, Input, additionalTexts.SetItem(path, replacement));
    }

    /// <summary>The text of the generated file <paramref name="hintName"/>.</summary>
    public string Source(string hintName) =>
        Assert.Single(Result.GeneratedSources, source => source.HintName == hintName).SourceText.ToString();

    /// <summary>Warnings and errors of the output compilation (the generated code and the user code).</summary>
    public Diagnostic[] CompilationProblems() =>
        Output.GetDiagnostics().Where(diagnostic => diagnostic.Severity >= DiagnosticSeverity.Warning).ToArray();

    /// <summary>Asserts that the generator reported nothing and that the app compiles without a warning.</summary>
    public GeneratorRun AssertCleanBuild()
    {
        Assert.Null(Result.Exception);
        Assert.Empty(Diagnostics.Select(diagnostic => diagnostic.ToString()));
        Assert.Empty(CompilationProblems().Select(diagnostic => diagnostic.ToString()));
        return this;
    }

    /// <summary>The named type the generator made.</summary>
    public INamedTypeSymbol Type(string metadataName) =>
        Output.GetTypeByMetadataName(metadataName) ?? throw new Xunit.Sdk.XunitException($"The output compilation has no type '{metadataName}'.");

    /// <summary>Emits the app, with the given manifest resources, and loads it into a load context of its own (Microsoft.ML.OnnxRuntime comes from the test's).</summary>
    public Assembly LoadAssembly(IEnumerable<ResourceDescription>? manifestResources = null)
    {
        using var image = new MemoryStream();
        Microsoft.CodeAnalysis.Emit.EmitResult result = Output.Emit(image, manifestResources: manifestResources);
        Assert.True(result.Success, string.Join(Environment.NewLine, result.Diagnostics));
        image.Position = 0;
        return new AssemblyLoadContext(Output.AssemblyName, isCollectible: true).LoadFromStream(image);
    }

    /// <summary>The XML documentation file the app's build would write.</summary>
    public System.Xml.Linq.XDocument DocumentationFile()
    {
        using var image = new MemoryStream();
        using var documentation = new MemoryStream();
        Microsoft.CodeAnalysis.Emit.EmitResult result = Output.Emit(image, xmlDocumentationStream: documentation);
        Assert.True(result.Success, string.Join(Environment.NewLine, result.Diagnostics));
        documentation.Position = 0;
        return System.Xml.Linq.XDocument.Load(documentation);
    }

    /// <summary>Calls a public static method of the loaded app, rethrowing what it throws as is.</summary>
    public static T Call<T>(Assembly assembly, string typeName, string methodName, params object?[] arguments)
    {
        MethodInfo method = assembly.GetType(typeName, throwOnError: true)!.GetMethod(methodName)
            ?? throw new Xunit.Sdk.XunitException($"{typeName} has no method {methodName}.");
        try
        {
            return (T)method.Invoke(null, arguments)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }

    private static GeneratorRun Run(GeneratorDriver driver, CSharpCompilation compilation, ImmutableDictionary<string, AdditionalText> additionalTexts)
    {
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> diagnostics);
        return new GeneratorRun(driver, compilation, output, diagnostics, additionalTexts);
    }

    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        string[] trusted = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        string runtime = typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly.Location;
        return trusted.Append(runtime)
            .Where(path => path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .Select(Path.GetFullPath)
            .Distinct(StringComparer.Ordinal)
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .ToImmutableArray();
    }
}

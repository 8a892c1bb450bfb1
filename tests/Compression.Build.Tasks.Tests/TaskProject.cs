using System.Diagnostics;
using System.Security;
using System.Text;

namespace Compression.Build.Tasks.Tests;

/// <summary>
/// A project file that calls one of the package's tasks (CompressOnnxModels unless told otherwise) once, run by `dotnet msbuild` in a child process: the task
/// runs in real MSBuild with the compressor built from this repository.
/// </summary>
internal sealed class TaskProject : IDisposable
{
    public TaskProject()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("compression-build-task ").FullName;
    }

    /// <summary>A temporary folder whose name has a space, so that every path the task passes has one too.</summary>
    public string Directory { get; }

    public static string CompressorPath => AssemblyMetadata.Get("CompressorPath");

    public static string TasksAssembly => AssemblyMetadata.Get("TasksAssembly");

    /// <summary>Runs the task with these parameters (values are XML-escaped) and returns MSBuild's exit code and output.</summary>
    /// <param name="parameters">The task's parameters.</param>
    /// <param name="nuGetPackages">The NuGet packages folder the compressor may find ONNX Runtime in (NUGET_PACKAGES); by default the user's.</param>
    /// <param name="task">The task to run.</param>
    /// <param name="models">Items <c>Model</c> to pass as the task's <c>Models</c>: each its path (<c>Include</c>) and metadata.</param>
    /// <param name="verbosity">MSBuild's verbosity.</param>
    public (int ExitCode, string Output) Run(IReadOnlyDictionary<string, string> parameters, string? nuGetPackages = null, string task = "CompressOnnxModels",
        IReadOnlyList<IReadOnlyDictionary<string, string>>? models = null, string verbosity = "minimal")
    {
        var attributes = new StringBuilder();
        foreach ((string name, string value) in parameters)
        {
            attributes.Append(' ').Append(name).Append("=\"").Append(SecurityElement.Escape(value)).Append('"');
        }

        var items = new StringBuilder();
        if (models is not null)
        {
            attributes.Append(" Models=\"@(Model)\"");
            foreach (IReadOnlyDictionary<string, string> model in models)
            {
                items.Append("    <Model Include=\"").Append(SecurityElement.Escape(model["Include"])).Append("\">\n");
                foreach ((string name, string value) in model.Where(m => m.Key != "Include"))
                {
                    items.Append("      <").Append(name).Append('>').Append(SecurityElement.Escape(value)).Append("</").Append(name).Append(">\n");
                }

                items.Append("    </Model>\n");
            }
        }

        return RunProject("compress.proj", $"""
              <ItemGroup>
            {items}  </ItemGroup>
              <Target Name="Compress">
                <{task}{attributes} ContinueOnError="ErrorAndContinue">{(task == "CompressOnnxModels" ? "\n      <Output TaskParameter=\"CompressedModels\" ItemName=\"Compressed\" />\n    " : string.Empty)}</{task}>
                <Message Importance="high" Text="compressed: @(Compressed)" />
              </Target>
            """, nuGetPackages, verbosity);
    }

    /// <summary>
    /// Writes a project file <paramref name="fileName"/> in <see cref="Directory"/> that can use every task of the assembly,
    /// with <paramref name="body"/> (items, targets) inside, runs its first target and returns MSBuild's exit code and output.
    /// </summary>
    public (int ExitCode, string Output) RunProject(string fileName, string body, string? nuGetPackages = null, string verbosity = "minimal")
    {
        string project = Path.Combine(Directory, fileName);
        string tasks = string.Concat(new[] { "CompressOnnxModels", "FindOutOfDateOnnxModels", "WriteOnnxHtmlReport", "CheckOnnxClassNames", "CheckOnnxModelPatterns" }.Select(task =>
            $"""  <UsingTask TaskName="Compression.Build.Tasks.{task}" AssemblyFile="{SecurityElement.Escape(TasksAssembly)}" TaskFactory="TaskHostFactory" />{"\n"}"""));
        File.WriteAllText(project, $"<Project>\n{tasks}{body}\n</Project>\n");
        return RunMSBuild(project, nuGetPackages, "-v:" + verbosity);
    }

    /// <summary>Runs <c>dotnet msbuild</c> on <paramref name="project"/> with <paramref name="arguments"/> (targets, <c>-restore</c>) and returns its exit code and output.</summary>
    public (int ExitCode, string Output) RunMSBuild(string project, string? nuGetPackages = null, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Directory };
        foreach (string argument in new[] { "msbuild", project, "-nologo", "-v:minimal", "-nodeReuse:false" }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        foreach (string name in start.Environment.Keys.Where(n => n.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment.Remove("ONNXRUNTIME_LIBRARY_PATH");
        if (nuGetPackages is not null)
        {
            start.Environment["NUGET_PACKAGES"] = nuGetPackages;
        }

        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        using Process process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output + error.Result);
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

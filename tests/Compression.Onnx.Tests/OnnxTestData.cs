using Compression.Onnx.Protos;

namespace Compression.Onnx.Tests;

/// <summary>
/// The ONNX backend test suite (Debian's libonnx-testdata): <c>&lt;suite&gt;/&lt;test&gt;/model.onnx</c> with
/// <c>test_data_set_N/input_K.pb</c> and <c>output_K.pb</c> beside it.
/// </summary>
internal static class OnnxTestData
{
    /// <summary>The suites that hold models (the package's "real" folder only lists download links).</summary>
    public static readonly string[] Suites = ["node", "pytorch-converted", "pytorch-operator", "simple"];

    /// <summary>The folder the build names in the assembly metadata <c>OnnxTestDataDir</c>.</summary>
    public static string Root => AssemblyMetadata.OnnxTestDataDir;

    /// <summary>Every <c>model.onnx</c> of a suite, sorted.</summary>
    public static string[] ModelFiles(string suite)
    {
        var files = Directory.GetFiles(Path.Combine(Root, suite), "model.onnx", SearchOption.AllDirectories);
        Array.Sort(files, StringComparer.Ordinal);
        return files;
    }

    /// <summary>
    /// Every <c>input_K.pb</c> and <c>output_K.pb</c> of a suite, with the type the model declares for it: the K-th
    /// graph input that is not an initializer, or the K-th graph output.
    /// </summary>
    public static IReadOnlyList<DataFile> DataFiles(string suite)
    {
        var found = new List<DataFile>();
        foreach (string modelPath in ModelFiles(suite))
        {
            var graph = OnnxModelFile.Load(modelPath, loadExternalData: false).Graph;
            var initializerNames = new HashSet<string>(StringComparer.Ordinal);
            foreach (var initializer in graph.Initializer)
            {
                initializerNames.Add(initializer.Name);
            }

            var inputs = new List<ValueInfoProto>();
            foreach (var input in graph.Input)
            {
                if (!initializerNames.Contains(input.Name))
                {
                    inputs.Add(input);
                }
            }

            string testFolder = Path.GetDirectoryName(modelPath)!;
            var dataSets = Directory.GetDirectories(testFolder, "test_data_set_*");
            Array.Sort(dataSets, StringComparer.Ordinal);
            foreach (string dataSet in dataSets)
            {
                var pbFiles = Directory.GetFiles(dataSet, "*.pb");
                Array.Sort(pbFiles, StringComparer.Ordinal);
                foreach (string pbFile in pbFiles)
                {
                    string stem = Path.GetFileNameWithoutExtension(pbFile);
                    int separator = stem.LastIndexOf('_');
                    int index = int.Parse(stem[(separator + 1)..], System.Globalization.CultureInfo.InvariantCulture);
                    var declared = stem.StartsWith("input", StringComparison.Ordinal) ? inputs : (IList<ValueInfoProto>)graph.Output;
                    found.Add(new DataFile(pbFile, declared[index].Type));
                }
            }
        }

        return found;
    }
}

/// <summary>A serialized value of the test suite and the type its model declares for it.</summary>
/// <param name="Path">The <c>.pb</c> file.</param>
/// <param name="Type">The declared type: a tensor, sequence, optional, map or sparse tensor.</param>
internal sealed record DataFile(string Path, TypeProto Type)
{
    public override string ToString() => Path;
}

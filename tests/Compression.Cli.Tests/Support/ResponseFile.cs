namespace Compression.Cli.Tests.Support;

/// <summary>Response files as the build's task writes them for <c>onnx-compress --each</c>: one quoted argument a line.</summary>
internal static class ResponseFile
{
    /// <summary>Writes <paramref name="arguments"/> to <paramref name="path"/> and returns the path.</summary>
    public static string Write(string path, params string[] arguments)
    {
        File.WriteAllLines(path, arguments.Select(a => "\"" + a + "\""));
        return path;
    }
}

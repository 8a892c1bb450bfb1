namespace Compression.Runtime.Tests;

internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Compression.Build.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (Compression.Build.sln) was not found above " + AppContext.BaseDirectory);
    }
}

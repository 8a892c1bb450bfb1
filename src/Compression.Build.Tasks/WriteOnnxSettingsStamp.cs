using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Compression.Build.Tasks;

/// <summary>
/// Writes a model's settings stamp, only when its content changes, so that the stamp's time tells the build's
/// up-to-date check whether to compress again. The stamp holds the compressor, every setting the project and the model
/// give, and the size and time of every file the last compression read (its dependency file: the model's external data,
/// the overrides file, every file of the validation and calibration folders).
/// </summary>
public sealed class WriteOnnxSettingsStamp : Task
{
    /// <summary>The model item, with its metadata.</summary>
    [Required]
    public ITaskItem Model { get; set; } = null!;

    /// <summary>The project-level settings, <c>Name=Value</c> one per line, as the generated settings targets list them.</summary>
    public string? ProjectSettings { get; set; }

    /// <summary>The compressor, whose path and version are part of the stamp.</summary>
    public string? CompressorPath { get; set; }

    /// <summary>The dependency file the last compression wrote; missing before the first.</summary>
    public string? DependencyFile { get; set; }

    /// <summary>Where the stamp goes.</summary>
    [Required]
    public string StampPath { get; set; } = string.Empty;

    /// <inheritdoc />
    public override bool Execute()
    {
        var lines = new List<string> { "compressor " + CompressorPath };
        lines.AddRange(OnnxSettings.Read(ProjectSettings, Model).StampLines());
        if (!string.IsNullOrEmpty(DependencyFile) && File.Exists(DependencyFile))
        {
            foreach (string line in File.ReadAllLines(DependencyFile!))
            {
                int tab = line.IndexOf('\t');
                if (tab <= 0)
                {
                    continue;
                }

                string kind = line.Substring(0, tab);
                string path = line.Substring(tab + 1);
                if (kind == "folder")
                {
                    lines.Add(Describe("folder", path));
                    if (Directory.Exists(path))
                    {
                        lines.AddRange(Directory.GetFiles(path, "*", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).Select(f => Describe("file", f)));
                    }
                }
                else
                {
                    lines.Add(Describe("file", path));
                }
            }
        }

        string content = string.Join("\n", lines) + "\n";
        try
        {
            if (File.Exists(StampPath) && File.ReadAllText(StampPath) == content)
            {
                return true;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(StampPath)!);
            File.WriteAllText(StampPath, content, new UTF8Encoding(false));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.LogError(null, CompressorTask.CompressorFailedCode, null, Model.ItemSpec, 0, 0, 0, 0,
                "The settings stamp '{0}' could not be written: {1}", StampPath, e.Message);
        }

        return !Log.HasLoggedErrors;
    }

    private static string Describe(string kind, string path)
    {
        var file = new FileInfo(path);
        return file.Exists
            ? string.Format(CultureInfo.InvariantCulture, "{0} {1} {2} {3}", kind, path, file.Length, file.LastWriteTimeUtc.Ticks)
            : Directory.Exists(path) ? kind + " " + path : kind + " " + path + " missing";
    }
}

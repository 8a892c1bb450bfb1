using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.Build.Framework;

namespace Compression.Build.Tasks;

/// <summary>
/// The compression settings of one model as the build knows them: the project-level values (the generated
/// <c>Compression.Build.Settings.targets</c> lists every setting as <c>Name=$(OnnxName)</c>, one per line) and the model's
/// item metadata of the same names. The task knows no setting by name: adding one to the compressor's declarations
/// adds it here through that generated list.
/// </summary>
internal sealed class OnnxSettings
{
    private OnnxSettings(IReadOnlyList<KeyValuePair<string, string>> properties, IReadOnlyList<KeyValuePair<string, string>> metadata)
    {
        Properties = properties;
        Metadata = metadata;
    }

    /// <summary>The project-level values given (setting name, value), in declaration order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Properties { get; }

    /// <summary>The model's metadata values given for settings (name, value), in declaration order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Metadata { get; }

    /// <summary>Reads the settings list and the model item.</summary>
    public static OnnxSettings Read(string? projectSettings, ITaskItem model)
    {
        var properties = new List<KeyValuePair<string, string>>();
        var metadata = new List<KeyValuePair<string, string>>();
        foreach (string line in (projectSettings ?? string.Empty).Split(['\n', '\r'], StringSplitOptions.RemoveEmptyEntries))
        {
            int equals = line.IndexOf('=');
            if (equals <= 0)
            {
                continue;
            }

            string name = line.Substring(0, equals).Trim();
            string value = line.Substring(equals + 1).Trim();
            if (value.Length > 0)
            {
                properties.Add(new KeyValuePair<string, string>(name, value));
            }

            string fromItem = model.GetMetadata(name).Trim();
            if (fromItem.Length > 0)
            {
                metadata.Add(new KeyValuePair<string, string>(name, fromItem));
            }
        }

        return new OnnxSettings(properties, metadata);
    }

    /// <summary>The settings as stamp lines: what, when it changes, means the model must be compressed again.</summary>
    public IEnumerable<string> StampLines() =>
        Properties.Select(p => "property " + p.Key + "=" + p.Value).Concat(Metadata.Select(m => "metadata " + m.Key + "=" + m.Value));
}

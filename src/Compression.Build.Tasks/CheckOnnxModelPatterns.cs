using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Compression.Build.Tasks;

/// <summary>
/// Warns about an <c>OnnxModel</c> wildcard that matches no file (<c>&lt;OnnxModel Include="Models/*.onnx" /&gt;</c> in a
/// project without such models): MSBuild drops a glob that matches nothing without a word, and the build would then
/// compress nothing and generate no class. Reads the project file's own <c>OnnxModel</c> elements (not imported files)
/// and looks for a file for each wildcard part of their <c>Include</c>; parts with properties or item references, and
/// elements under a <c>Condition</c>, are left alone, since only MSBuild can evaluate them. Cheap: one small XML file
/// read and a directory listing per wildcard.
/// </summary>
public sealed class CheckOnnxModelPatterns : Task
{
    /// <summary>The code of the warning: a wildcard matches no model.</summary>
    public const string EmptyPatternCode = "OCB2008";

    /// <summary>The project file whose <c>OnnxModel</c> elements are checked.</summary>
    [Required]
    public string ProjectFile { get; set; } = string.Empty;

    /// <inheritdoc />
    public override bool Execute()
    {
        XDocument project;
        try
        {
            project = XDocument.Load(ProjectFile, LoadOptions.SetLineInfo);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or XmlException)
        {
            // MSBuild read the project already; a file that cannot be read again here is not this check's to report.
            Log.LogMessage(MessageImportance.Low, "The OnnxModel patterns of '{0}' were not checked: {1}", ProjectFile, e.Message);
            return true;
        }

        string projectDirectory = Path.GetDirectoryName(Path.GetFullPath(ProjectFile))!;
        foreach (XElement element in project.Descendants().Where(e => e.Name.LocalName == "OnnxModel"))
        {
            string? include = element.Attribute("Include")?.Value;
            if (include is null || element.AncestorsAndSelf().Any(e => e.Attribute("Condition") is not null))
            {
                continue;
            }

            foreach (string part in include.Split(';').Select(p => p.Trim()))
            {
                if (part.Length == 0 || part.IndexOfAny(['*', '?']) < 0 || part.Contains("$(") || part.Contains("@(") || part.Contains("%("))
                {
                    continue;
                }

                if (!MatchesAnyFile(projectDirectory, part))
                {
                    var line = (IXmlLineInfo)element;
                    Log.LogWarning(null, EmptyPatternCode, null, ProjectFile, line.LineNumber, line.LinePosition, 0, 0,
                        "The OnnxModel pattern '{0}' in project '{1}' matches no file, so no model is compressed from it and no class is generated. Put the models where the pattern looks (relative to '{2}'), or fix the Include.",
                        part, Path.GetFileName(ProjectFile), projectDirectory);
                }
            }
        }

        return true;
    }

    /// <summary>
    /// True when a file matches <paramref name="pattern"/> (relative to <paramref name="baseDirectory"/>, or rooted):
    /// <c>*</c> and <c>?</c> within a folder name, <c>**</c> for any number of folders, as MSBuild reads them.
    /// </summary>
    public static bool MatchesAnyFile(string baseDirectory, string pattern)
    {
        string[] segments = pattern.Replace('\\', '/').Split('/');
        int wildcard = Array.FindIndex(segments, s => s.IndexOfAny(['*', '?']) >= 0);
        string fixedPart = string.Join("/", segments, 0, wildcard);
        string root = Path.GetFullPath(Path.Combine(baseDirectory, fixedPart.Length == 0 ? "." : fixedPart));
        if (!Directory.Exists(root))
        {
            return false;
        }

        string[] rest = segments.Skip(wildcard).Where(s => s.Length > 0).ToArray();
        var regex = new StringBuilder("^");
        for (int i = 0; i < rest.Length; i++)
        {
            bool last = i == rest.Length - 1;
            if (rest[i] == "**")
            {
                regex.Append(last ? ".*" : "(?:[^/]+/)*");
                continue;
            }

            foreach (char c in rest[i])
            {
                regex.Append(c switch { '*' => "[^/]*", '?' => "[^/]", _ => Regex.Escape(c.ToString()) });
            }

            regex.Append(last ? string.Empty : "/");
        }

        regex.Append('$');
        var matcher = new Regex(regex.ToString(), Path.DirectorySeparatorChar == '\\' ? RegexOptions.IgnoreCase : RegexOptions.None);
        bool recursive = rest.Length > 1 || rest.Contains("**");
        IEnumerable<string> files = Directory.EnumerateFiles(root, "*", recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly);
        return files.Any(f => matcher.IsMatch(f.Substring(root.Length).TrimStart(Path.DirectorySeparatorChar, '/').Replace('\\', '/')));
    }
}

using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Threading;

namespace Compression.Build.Generator;

/// <summary>
/// The content of a model signature file (format 1), before the build's options give it names.
/// </summary>
internal sealed class ModelSignature
{
    /// <summary>The original model's path as the project names it, or null.</summary>
    public string? Source { get; set; }

    /// <summary>The model's description, or null.</summary>
    public string? Description { get; set; }

    /// <summary>The compression techniques applied.</summary>
    public List<string> Compression { get; } = new();

    /// <summary>The original size in bytes, or -1.</summary>
    public long OriginalSize { get; set; } = -1;

    /// <summary>The compressed size in bytes, or -1.</summary>
    public long CompressedSize { get; set; } = -1;

    /// <summary>The session configuration entries, in file order.</summary>
    public List<SessionConfigEntry> SessionConfig { get; } = new();

    /// <summary>The inputs, in model order: the required ones, then the optional ones.</summary>
    public List<SignatureTensor> Inputs { get; } = new();

    /// <summary>The outputs, in model order.</summary>
    public List<SignatureTensor> Outputs { get; } = new();
}

/// <summary>An <c>input</c> or <c>output</c> line of a signature.</summary>
/// <param name="Name">The tensor name.</param>
/// <param name="ElementType">The element type name.</param>
/// <param name="HasKnownRank">False for rank <c>*</c>.</param>
/// <param name="Dimensions">The dimensions when the rank is known.</param>
/// <param name="IsOptional">True for an <c>optional-input</c> line: an input the model has a default for.</param>
internal sealed record SignatureTensor(string Name, string ElementType, bool HasKnownRank, EquatableArray<Dimension> Dimensions, bool IsOptional = false);

/// <summary>
/// Reads model signature files, the text sidecars the compressor writes beside each compressed model.
/// </summary>
/// <remarks>
/// Format 1: UTF-8 lines of TAB-separated fields, in which <c>\</c>, TAB, LF and CR are written <c>\\</c>,
/// <c>\t</c>, <c>\n</c> and <c>\r</c>. Empty lines and lines starting with <c>#</c> are comments. The first field is
/// the key: <c>format</c>, <c>source</c>, <c>description</c>, <c>compression</c>, <c>size</c>, <c>session-config</c>,
/// <c>input</c>, <c>optional-input</c> (an input the model has a default for, an initializer, so that the caller may
/// omit it), <c>output</c>; lines with other keys are ignored, so that later versions can add keys.
/// </remarks>
internal static class SignatureReader
{
    /// <summary>The newest format version this generator reads.</summary>
    public const int FormatVersion = 1;

    /// <summary>
    /// Reads <paramref name="text"/>, adding a diagnostic to <paramref name="diagnostics"/> for each problem.
    /// Returns null when the text is not a signature this generator can read at all.
    /// </summary>
    public static ModelSignature? Read(string path, string text, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
    {
        List<SignatureLine> lines = SplitLines(path, text);

        SignatureLine? formatLine = null;
        foreach (SignatureLine line in lines)
        {
            if (line.Key != "format")
            {
                continue;
            }

            if (formatLine is not null)
            {
                diagnostics.Add(line.Malformed("the 'format' line appears more than once"));
                return null;
            }

            formatLine = line;
        }

        if (formatLine is null)
        {
            diagnostics.Add(DiagnosticInfo.Create(
                DiagnosticDescriptors.NotASignature,
                SignatureLocation.StartOf(path),
                path,
                "it has no 'format' line, so it is not a model signature written by Compression.Build, or it was cut short"));
            return null;
        }

        if (!formatLine.TryGetFields(2, "'format' and the format version", diagnostics, out string[] formatFields))
        {
            return null;
        }

        if (!TryParseCount(formatFields[1], out long format) || format == 0)
        {
            diagnostics.Add(formatLine.Malformed($"the format version '{formatFields[1]}' is not a positive integer"));
            return null;
        }

        if (format > FormatVersion)
        {
            diagnostics.Add(DiagnosticInfo.Create(
                DiagnosticDescriptors.UnsupportedSignatureFormat,
                formatLine.Location,
                path,
                format.ToString(CultureInfo.InvariantCulture),
                FormatVersion.ToString(CultureInfo.InvariantCulture)));
            return null;
        }

        var signature = new ModelSignature();
        var inputNames = new HashSet<string>(System.StringComparer.Ordinal);
        var outputNames = new HashSet<string>(System.StringComparer.Ordinal);
        var configKeys = new HashSet<string>(System.StringComparer.Ordinal);
        var optionalInputs = new List<SignatureTensor>();
        bool sawSize = false;
        foreach (SignatureLine line in lines)
        {
            cancellationToken.ThrowIfCancellationRequested();
            switch (line.Key)
            {
                case "source":
                    if (line.TryGetFields(2, "'source' and the model's path", diagnostics, out string[] source))
                    {
                        if (signature.Source is not null)
                        {
                            diagnostics.Add(line.Malformed("the 'source' line appears more than once"));
                        }

                        signature.Source = source[1];
                    }

                    break;

                case "description":
                    if (line.TryGetFields(2, "'description' and the text", diagnostics, out string[] description))
                    {
                        if (signature.Description is not null)
                        {
                            diagnostics.Add(line.Malformed("the 'description' line appears more than once"));
                        }

                        signature.Description = description[1];
                    }

                    break;

                case "compression":
                    if (line.TryGetFields(2, "'compression' and the technique", diagnostics, out string[] compression))
                    {
                        signature.Compression.Add(compression[1]);
                    }

                    break;

                case "size":
                    if (line.TryGetFields(3, "'size', the original size in bytes and the compressed size in bytes", diagnostics, out string[] size))
                    {
                        if (sawSize)
                        {
                            diagnostics.Add(line.Malformed("the 'size' line appears more than once"));
                        }
                        else if (!TryParseCount(size[1], out long original) || !TryParseCount(size[2], out long compressed))
                        {
                            diagnostics.Add(line.Malformed($"the sizes '{size[1]}' and '{size[2]}' are not both non-negative integers"));
                        }
                        else
                        {
                            signature.OriginalSize = original;
                            signature.CompressedSize = compressed;
                        }

                        sawSize = true;
                    }

                    break;

                case "session-config":
                    if (line.TryGetFields(3, "'session-config', a key and a value", diagnostics, out string[] entry))
                    {
                        if (entry[1].Length == 0)
                        {
                            diagnostics.Add(line.Malformed("the session-config key is empty"));
                        }
                        else if (!configKeys.Add(entry[1]))
                        {
                            diagnostics.Add(line.Malformed($"the session-config key '{entry[1]}' appears more than once"));
                        }
                        else
                        {
                            signature.SessionConfig.Add(new SessionConfigEntry(entry[1], entry[2]));
                        }
                    }

                    break;

                case "input":
                    ReadTensor(line, "input", inputNames, signature.Inputs, diagnostics);
                    break;

                case "optional-input":
                    ReadTensor(line, "optional-input", inputNames, optionalInputs, diagnostics);
                    break;

                case "output":
                    ReadTensor(line, "output", outputNames, signature.Outputs, diagnostics);
                    break;
            }
        }

        signature.Inputs.AddRange(optionalInputs);
        return signature;
    }

    private static void ReadTensor(SignatureLine line, string kind, HashSet<string> names, List<SignatureTensor> tensors, List<DiagnosticInfo> diagnostics)
    {
        if (!line.TryGetFieldsAtLeast(4, $"'{kind}', the name, the element type, the rank and one field per dimension", diagnostics, out string[] fields))
        {
            return;
        }

        string name = fields[1];
        string elementType = fields[2];
        string rank = fields[3];
        if (name.Length == 0)
        {
            diagnostics.Add(line.Malformed($"the {kind} name is empty"));
            return;
        }

        if (!names.Add(name))
        {
            diagnostics.Add(line.Malformed($"the {kind} '{name}' appears more than once"));
            return;
        }

        if (elementType.Length == 0)
        {
            diagnostics.Add(line.Malformed($"the element type of {kind} '{name}' is empty"));
            return;
        }

        if (rank == "*")
        {
            if (fields.Length != 4)
            {
                diagnostics.Add(line.Malformed($"{kind} '{name}' has rank '*' (unknown), so no dimension fields may follow, but {fields.Length - 4} do"));
                return;
            }

            tensors.Add(new SignatureTensor(name, elementType, false, EquatableArray<Dimension>.Empty, kind == "optional-input"));
            return;
        }

        if (!TryParseCount(rank, out long rankValue) || rankValue > int.MaxValue)
        {
            diagnostics.Add(line.Malformed($"the rank '{rank}' of {kind} '{name}' is neither a non-negative integer nor '*'"));
            return;
        }

        if (fields.Length - 4 != rankValue)
        {
            diagnostics.Add(line.Malformed($"{kind} '{name}' has rank {rank}, so {rank} dimension fields must follow, but {fields.Length - 4} do"));
            return;
        }

        var dimensions = new Dimension[rankValue];
        for (int i = 0; i < dimensions.Length; i++)
        {
            string field = fields[4 + i];
            if (field == "?")
            {
                dimensions[i] = Dimension.Unknown;
            }
            else if (field.Length > 1 && field[0] == '$')
            {
                dimensions[i] = Dimension.Symbolic(field.Substring(1));
            }
            else if (TryParseCount(field, out long size))
            {
                dimensions[i] = Dimension.Fixed(size);
            }
            else
            {
                diagnostics.Add(line.Malformed($"dimension {i} ('{field}') of {kind} '{name}' is not a non-negative integer, '$name' or '?'"));
                return;
            }
        }

        tensors.Add(new SignatureTensor(name, elementType, true, new EquatableArray<Dimension>(dimensions), kind == "optional-input"));
    }

    /// <summary>Parses a non-negative decimal integer of ASCII digits only.</summary>
    private static bool TryParseCount(string text, out long value)
    {
        value = 0;
        if (text.Length == 0 || text.Length > 19)
        {
            return false;
        }

        foreach (char c in text)
        {
            if (c < '0' || c > '9')
            {
                return false;
            }
        }

        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static List<SignatureLine> SplitLines(string path, string text)
    {
        var lines = new List<SignatureLine>();
        int start = text.Length > 0 && text[0] == '\uFEFF' ? 1 : 0;
        int lineNumber = 0;
        while (start <= text.Length)
        {
            int end = text.IndexOf('\n', start);
            int next = end < 0 ? text.Length + 1 : end + 1;
            if (end < 0)
            {
                end = text.Length;
            }

            int contentEnd = end > start && text[end - 1] == '\r' ? end - 1 : end;
            string content = text.Substring(start, contentEnd - start);
            if (content.Length > 0 && content[0] != '#')
            {
                lines.Add(new SignatureLine(path, lineNumber, start, content));
            }

            lineNumber++;
            start = next;
        }

        return lines;
    }

    /// <summary>One line that is neither empty nor a comment.</summary>
    private sealed class SignatureLine
    {
        private readonly string[] rawFields;

        public SignatureLine(string path, int lineNumber, int start, string content)
        {
            rawFields = content.Split('\t');
            LineNumber = lineNumber;
            Location = new SignatureLocation(path, start, content.Length, lineNumber, 0, content.Length);
        }

        /// <summary>The zero-based line number.</summary>
        public int LineNumber { get; }

        /// <summary>The whole line.</summary>
        public SignatureLocation Location { get; }

        /// <summary>The first field as written.</summary>
        public string Key => rawFields[0];

        /// <summary>A malformed-line diagnostic for this line.</summary>
        public DiagnosticInfo Malformed(string problem) => DiagnosticInfo.Create(
            DiagnosticDescriptors.MalformedSignatureLine,
            Location,
            Location.FilePath,
            (LineNumber + 1).ToString(CultureInfo.InvariantCulture),
            problem);

        /// <summary>The unescaped fields when there are exactly <paramref name="count"/>.</summary>
        public bool TryGetFields(int count, string expected, List<DiagnosticInfo> diagnostics, out string[] fields)
        {
            if (rawFields.Length != count)
            {
                fields = System.Array.Empty<string>();
                diagnostics.Add(Malformed($"expected {count} tab-separated fields ({expected}) but found {rawFields.Length}"));
                return false;
            }

            return TryUnescapeAll(diagnostics, out fields);
        }

        /// <summary>The unescaped fields when there are at least <paramref name="count"/>.</summary>
        public bool TryGetFieldsAtLeast(int count, string expected, List<DiagnosticInfo> diagnostics, out string[] fields)
        {
            if (rawFields.Length < count)
            {
                fields = System.Array.Empty<string>();
                diagnostics.Add(Malformed($"expected at least {count} tab-separated fields ({expected}) but found {rawFields.Length}"));
                return false;
            }

            return TryUnescapeAll(diagnostics, out fields);
        }

        private bool TryUnescapeAll(List<DiagnosticInfo> diagnostics, out string[] fields)
        {
            fields = new string[rawFields.Length];
            for (int i = 0; i < fields.Length; i++)
            {
                string? problem = TryUnescape(rawFields[i], out fields[i]);
                if (problem is not null)
                {
                    diagnostics.Add(Malformed($"field {i + 1} {problem}"));
                    return false;
                }
            }

            return true;
        }

        private static string? TryUnescape(string field, out string value)
        {
            value = field;
            if (field.IndexOf('\\') < 0)
            {
                return null;
            }

            var text = new StringBuilder(field.Length);
            for (int i = 0; i < field.Length; i++)
            {
                char c = field[i];
                if (c != '\\')
                {
                    text.Append(c);
                    continue;
                }

                if (i + 1 == field.Length)
                {
                    return "ends with a lone '\\'; a backslash is written '\\\\'";
                }

                char escaped = field[++i];
                switch (escaped)
                {
                    case '\\': text.Append('\\'); break;
                    case 't': text.Append('\t'); break;
                    case 'n': text.Append('\n'); break;
                    case 'r': text.Append('\r'); break;
                    default:
                        return $"has the unknown escape '\\{escaped}'; only \\\\, \\t, \\n and \\r are escapes";
                }
            }

            value = text.ToString();
            return null;
        }
    }
}

using System.Globalization;
using System.Text;
using Compression.Onnx;
using Compression.Onnx.Protos;

namespace Compression.Core.Signature;

/// <summary>One input or output of a model as the signature records it.</summary>
/// <param name="Name">The tensor's name in the model.</param>
/// <param name="ElementType">The ONNX element type name (<c>float</c>, <c>int64</c>...), or the value kind
/// (<c>sequence</c>, <c>map</c>, <c>optional</c>, <c>sparse_tensor</c>) for values that are not dense tensors.</param>
/// <param name="Dims">One entry per dimension: a size (<c>64</c>), a symbolic name (<c>$batch</c>) or <c>?</c>;
/// null when the rank is unknown.</param>
public sealed record TensorSignature(string Name, string ElementType, IReadOnlyList<string>? Dims)
{
    /// <summary>The shape as people read it: <c>[batch, 64]</c>, or <c>[?]</c>... or <c>unknown</c>.</summary>
    public string ShapeText => Dims is null ? "unknown" : "[" + string.Join(", ", Dims.Select(d => d.TrimStart('$'))) + "]";
}

/// <summary>
/// The small text file the compressor writes beside a compressed model (<c>model.onnx.signature</c>), from which
/// the source generator makes the model's typed class without reading the model. Format version 1: UTF-8 lines of
/// TAB-separated fields (<c>\\</c>, <c>\t</c>, <c>\n</c>, <c>\r</c> escaped within a field); <c>#</c> starts a comment;
/// keys: <c>format</c>, <c>source</c>, <c>description</c>, <c>compression</c>*, <c>size</c>, <c>session-config</c>*,
/// <c>input</c>*, <c>optional-input</c>*, <c>output</c>*, where a tensor line is name, element type, rank (or <c>*</c>), then
/// the dimensions. An <c>optional-input</c> is a graph input that is also an initializer: the model holds its default,
/// and a caller may give another value. Readers ignore keys they do not know, so older generators skip these lines.
/// </summary>
/// <param name="Source">The original model's path as the user wrote it.</param>
/// <param name="Description">The first paragraph of the model's doc string, if any.</param>
/// <param name="Compression">One line per technique applied; empty when the model was copied as it was.</param>
/// <param name="OriginalBytes">The original model's size.</param>
/// <param name="CompressedBytes">The compressed model's size.</param>
/// <param name="SessionConfig">Session configuration entries the compressed model needs.</param>
/// <param name="Inputs">The model's inputs, in order (initializers listed as inputs are left out).</param>
/// <param name="Outputs">The model's outputs, in order.</param>
public sealed record ModelSignature(
    string Source,
    string? Description,
    IReadOnlyList<string> Compression,
    long OriginalBytes,
    long CompressedBytes,
    IReadOnlyDictionary<string, string> SessionConfig,
    IReadOnlyList<TensorSignature> Inputs,
    IReadOnlyList<TensorSignature> Outputs)
{
    /// <summary>
    /// The inputs the caller may omit, in order: graph inputs that are also initializers (from IR version 4 on, where the
    /// initializers need not be listed as inputs, so that listing one makes it a default the caller can override).
    /// </summary>
    public IReadOnlyList<TensorSignature> OptionalInputs { get; init; } = [];

    /// <summary>The format version this code writes.</summary>
    public const int FormatVersion = 1;

    /// <summary>The file name suffix of signatures: <c>digits.onnx</c> has <c>digits.onnx.signature</c>.</summary>
    public const string FileSuffix = ".signature";

    /// <summary>The inputs and outputs of <paramref name="model"/>'s main graph.</summary>
    public static (IReadOnlyList<TensorSignature> Inputs, IReadOnlyList<TensorSignature> Outputs) ReadInterface(ModelProto model)
    {
        GraphProto graph = model.Graph ?? new GraphProto();
        var initializers = new HashSet<string>(graph.Initializer.Select(t => t.Name), StringComparer.Ordinal);
        var inputs = graph.Input.Where(v => !initializers.Contains(v.Name)).Select(Describe).ToList();
        var outputs = graph.Output.Select(Describe).ToList();
        return (inputs, outputs);
    }

    /// <summary>
    /// The inputs of <paramref name="model"/>'s main graph that have an initializer for a default, when its IR version is 4
    /// or newer; none before, as every initializer had to be listed as an input then.
    /// </summary>
    public static IReadOnlyList<TensorSignature> ReadOptionalInputs(ModelProto model)
    {
        GraphProto graph = model.Graph ?? new GraphProto();
        if (model.IrVersion < 4)
        {
            return [];
        }

        var initializers = new HashSet<string>(graph.Initializer.Select(t => t.Name), StringComparer.Ordinal);
        return graph.Input.Where(v => initializers.Contains(v.Name)).Select(Describe).ToList();
    }

    /// <summary>The first paragraph of a doc string, on one line, or null when there is none.</summary>
    public static string? FirstParagraph(string? docString)
    {
        if (string.IsNullOrWhiteSpace(docString))
        {
            return null;
        }

        string text = docString.Replace("\r\n", "\n", StringComparison.Ordinal).Trim();
        int end = text.IndexOf("\n\n", StringComparison.Ordinal);
        string paragraph = end < 0 ? text : text[..end];
        return string.Join(' ', paragraph.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>Reads the text of a <c>.signature</c> file <see cref="ToText"/> wrote (one stored in the compression cache).</summary>
    /// <exception cref="FormatException">The text is not a signature of <see cref="FormatVersion"/>.</exception>
    public static ModelSignature Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string? source = null;
        string? description = null;
        var compression = new List<string>();
        long? originalBytes = null;
        long compressedBytes = 0;
        var sessionConfig = new Dictionary<string, string>(StringComparer.Ordinal);
        var inputs = new List<TensorSignature>();
        var outputs = new List<TensorSignature>();
        bool versioned = false;
        foreach (string line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            string[] fields = line.Split('\t').Select(Unescape).ToArray();
            switch (fields[0])
            {
                case "format" when fields.Length == 2 && fields[1] == FormatVersion.ToString(CultureInfo.InvariantCulture):
                    versioned = true;
                    break;
                case "source" when fields.Length == 2:
                    source = fields[1];
                    break;
                case "description" when fields.Length == 2:
                    description = fields[1];
                    break;
                case "compression" when fields.Length == 2:
                    compression.Add(fields[1]);
                    break;
                case "size" when fields.Length == 3:
                    originalBytes = long.Parse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture);
                    compressedBytes = long.Parse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture);
                    break;
                case "session-config" when fields.Length == 3:
                    sessionConfig[fields[1]] = fields[2];
                    break;
                case "input" or "output" when fields.Length >= 4:
                    (fields[0] == "input" ? inputs : outputs).Add(ParseTensor(fields));
                    break;
                default:
                    throw new FormatException($"The signature line '{line}' is not one format {FormatVersion} has.");
            }
        }

        if (!versioned || source is null || originalBytes is null)
        {
            throw new FormatException($"The text is not a signature of format {FormatVersion}: its format, source or size line is missing.");
        }

        return new ModelSignature(source, description, compression, originalBytes.Value, compressedBytes, sessionConfig, inputs, outputs);
    }

    /// <summary>The signature as the text of a <c>.signature</c> file.</summary>
    public string ToText()
    {
        var text = new StringBuilder();
        text.Append("# Compression.Build model signature. Generated; do not edit.\n");
        Line(text, "format", FormatVersion.ToString(CultureInfo.InvariantCulture));
        Line(text, "source", Source);
        if (!string.IsNullOrEmpty(Description))
        {
            Line(text, "description", Description);
        }

        foreach (string technique in Compression)
        {
            Line(text, "compression", technique);
        }

        Line(text, "size", OriginalBytes.ToString(CultureInfo.InvariantCulture), CompressedBytes.ToString(CultureInfo.InvariantCulture));
        foreach (KeyValuePair<string, string> entry in SessionConfig.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            Line(text, "session-config", entry.Key, entry.Value);
        }

        foreach (TensorSignature input in Inputs)
        {
            TensorLine(text, "input", input);
        }

        foreach (TensorSignature input in OptionalInputs)
        {
            TensorLine(text, "optional-input", input);
        }

        foreach (TensorSignature output in Outputs)
        {
            TensorLine(text, "output", output);
        }

        return text.ToString();
    }

    private static void TensorLine(StringBuilder text, string key, TensorSignature tensor)
    {
        var fields = new List<string> { tensor.Name, tensor.ElementType };
        if (tensor.Dims is null)
        {
            fields.Add("*");
        }
        else
        {
            fields.Add(tensor.Dims.Count.ToString(CultureInfo.InvariantCulture));
            fields.AddRange(tensor.Dims);
        }

        Line(text, key, [.. fields]);
    }

    private static TensorSignature ParseTensor(string[] fields)
    {
        if (fields[3] == "*")
        {
            return fields.Length == 4 ? new TensorSignature(fields[1], fields[2], null) : throw new FormatException($"The signature's {fields[0]} '{fields[1]}' has dimensions but no rank.");
        }

        int rank = int.Parse(fields[3], NumberStyles.None, CultureInfo.InvariantCulture);
        return fields.Length == 4 + rank
            ? new TensorSignature(fields[1], fields[2], fields[4..])
            : throw new FormatException($"The signature's {fields[0]} '{fields[1]}' gives rank {rank} and {fields.Length - 4} dimensions.");
    }

    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var text = new StringBuilder(field.Length);
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] != '\\' || i + 1 == field.Length)
            {
                text.Append(field[i]);
                continue;
            }

            i++;
            text.Append(field[i] switch
            {
                't' => '\t',
                'n' => '\n',
                'r' => '\r',
                _ => field[i],
            });
        }

        return text.ToString();
    }

    private static void Line(StringBuilder text, string key, params string[] fields)
    {
        text.Append(key);
        foreach (string field in fields)
        {
            text.Append('\t');
            foreach (char c in field)
            {
                _ = c switch
                {
                    '\\' => text.Append("\\\\"),
                    '\t' => text.Append("\\t"),
                    '\n' => text.Append("\\n"),
                    '\r' => text.Append("\\r"),
                    _ => text.Append(c),
                };
            }
        }

        text.Append('\n');
    }

    private static TensorSignature Describe(ValueInfoProto value)
    {
        TypeProto? type = value.Type;
        if (type is null || type.ValueCase == TypeProto.ValueOneofCase.None)
        {
            return new TensorSignature(value.Name, "undefined", null);
        }

        return type.ValueCase switch
        {
            TypeProto.ValueOneofCase.TensorType => new TensorSignature(
                value.Name,
                ElementTypeName(type.TensorType.ElemType),
                type.TensorType.Shape is null ? null : type.TensorType.Shape.Dim.Select(DimensionText).ToList()),
            TypeProto.ValueOneofCase.SequenceType => new TensorSignature(value.Name, "sequence", null),
            TypeProto.ValueOneofCase.MapType => new TensorSignature(value.Name, "map", null),
            TypeProto.ValueOneofCase.OptionalType => new TensorSignature(value.Name, "optional", null),
            TypeProto.ValueOneofCase.SparseTensorType => new TensorSignature(value.Name, "sparse_tensor", null),
            _ => new TensorSignature(value.Name, "opaque", null),
        };
    }

    private static string DimensionText(TensorShapeProto.Types.Dimension dimension) => dimension.ValueCase switch
    {
        TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue when dimension.DimValue >= 0 => dimension.DimValue.ToString(CultureInfo.InvariantCulture),
        TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam when dimension.DimParam.Length > 0 => "$" + dimension.DimParam,
        _ => "?",
    };

    /// <summary>The ONNX name of an element type number in lower case, as signatures write it (<c>float</c>, <c>bfloat16</c>).</summary>
    public static string ElementTypeName(int elementType) =>
        TensorDataTypes.TryGetSizeInBits((TensorProto.Types.DataType)elementType, out _) || elementType == (int)TensorProto.Types.DataType.String
            ? TensorDataTypes.Describe((TensorProto.Types.DataType)elementType).ToLowerInvariant()
            : "undefined";
}

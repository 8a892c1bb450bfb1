using System.Text.Json;
using Compression.Core.Ir;

namespace Compression.Core.Settings;

/// <summary>One setting's resolved value and where it came from, as the report lists it.</summary>
/// <param name="Name">The setting's name.</param>
/// <param name="Value">The value as users write it.</param>
/// <param name="Source">Where it came from.</param>
public sealed record ResolvedSettingReport(string Name, string Value, string Source);

/// <summary>
/// The settings of one model, checked and resolved: each setting's value for the model, and for node-scope settings
/// its value for each node (node name beats op type beats model beats project beats default).
/// </summary>
public sealed class ResolvedSettings
{
    private readonly Dictionary<Setting, (object Value, SettingOrigin Origin)> model;

    internal ResolvedSettings(Dictionary<Setting, (object Value, SettingOrigin Origin)> model, OverridesFile? overrides)
    {
        this.model = model;
        Overrides = overrides;
    }

    /// <summary>The overrides file, when the model has one.</summary>
    public OverridesFile? Overrides { get; }

    /// <summary>The value of <paramref name="setting"/> for the model.</summary>
    public T Get<T>(Setting<T> setting) where T : notnull => (T)model[setting].Value;

    /// <summary>Where the model's value of <paramref name="setting"/> came from.</summary>
    public SettingOrigin OriginOf(Setting setting) => model[setting].Origin;

    /// <summary>The value of <paramref name="setting"/> for <paramref name="node"/>: its name's override, its op type's, or the model's.</summary>
    public T Get<T>(Setting<T> setting, Node node) where T : notnull => (T)Lookup(setting, node).Value;

    /// <summary>Where the value of <paramref name="setting"/> for <paramref name="node"/> came from.</summary>
    public SettingOrigin OriginOf(Setting setting, Node node) => Lookup(setting, node).Origin;

    /// <summary>These settings with <paramref name="setting"/> set to <paramref name="value"/> for the model, from <paramref name="origin"/>.</summary>
    internal ResolvedSettings With(Setting setting, object value, SettingOrigin origin) =>
        new(new Dictionary<Setting, (object Value, SettingOrigin Origin)>(model) { [setting] = (value, origin) }, Overrides);

    /// <summary>
    /// These settings with node-level values added for the nodes <paramref name="nodes"/> names (they beat the overrides
    /// file's values for the same node and setting; the file's other values stay).
    /// </summary>
    internal ResolvedSettings WithNodes(IReadOnlyDictionary<string, IReadOnlyDictionary<Setting, object>> nodes, SettingOrigin origin) =>
        new(model, OverridesFile.Merge(Overrides, nodes, origin));

    /// <summary>Every setting's value for the model, with its source, in catalog order.</summary>
    public IReadOnlyList<ResolvedSettingReport> Report() =>
        SettingsCatalog.All.Select(s => new ResolvedSettingReport(s.Name, s.Format(model[s].Value), model[s].Origin.Description)).ToList();

    private (object Value, SettingOrigin Origin) Lookup(Setting setting, Node node)
    {
        if (setting.Scope == SettingScope.Node && Overrides is not null)
        {
            if (node.Name.Length > 0 && Overrides.Nodes.TryGetValue(node.Name, out var byNode) && byNode.TryGetValue(setting, out var fromNode))
            {
                return fromNode;
            }

            if (Overrides.OpTypes.TryGetValue(node.OpType, out var byOpType) && byOpType.TryGetValue(setting, out var fromOpType))
            {
                return fromOpType;
            }
        }

        return model[setting];
    }
}

/// <summary>
/// A model's overrides file: settings per operator type (<c>opTypes</c>) and per node name (<c>nodes</c>), keyed by the
/// settings' metadata names. An entry may be <c>"none"</c> instead of an object: every technique leaves those nodes alone.
/// </summary>
public sealed class OverridesFile
{
    private OverridesFile(string path, Dictionary<string, Dictionary<Setting, (object, SettingOrigin)>> opTypes, Dictionary<string, Dictionary<Setting, (object, SettingOrigin)>> nodes)
    {
        Path = path;
        OpTypes = opTypes;
        Nodes = nodes;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Values by operator type.</summary>
    public IReadOnlyDictionary<string, Dictionary<Setting, (object Value, SettingOrigin Origin)>> OpTypes { get; }

    /// <summary>Values by node name.</summary>
    public IReadOnlyDictionary<string, Dictionary<Setting, (object Value, SettingOrigin Origin)>> Nodes { get; }

    /// <summary><paramref name="file"/> (or an empty file) with node values added; they beat the file's own for the same node and setting.</summary>
    internal static OverridesFile Merge(OverridesFile? file, IReadOnlyDictionary<string, IReadOnlyDictionary<Setting, object>> added, SettingOrigin origin)
    {
        var opTypes = new Dictionary<string, Dictionary<Setting, (object, SettingOrigin)>>(StringComparer.Ordinal);
        var nodes = new Dictionary<string, Dictionary<Setting, (object, SettingOrigin)>>(StringComparer.Ordinal);
        if (file is not null)
        {
            foreach (var entry in file.OpTypes)
            {
                opTypes[entry.Key] = new Dictionary<Setting, (object, SettingOrigin)>(entry.Value);
            }

            foreach (var entry in file.Nodes)
            {
                nodes[entry.Key] = new Dictionary<Setting, (object, SettingOrigin)>(entry.Value);
            }
        }

        foreach (var entry in added)
        {
            if (!nodes.TryGetValue(entry.Key, out var values))
            {
                nodes[entry.Key] = values = [];
            }

            foreach (var value in entry.Value)
            {
                values[value.Key] = (value.Value, origin);
            }
        }

        return new OverridesFile(file?.Path ?? string.Empty, opTypes, nodes);
    }

    /// <summary>Reads and checks an overrides file.</summary>
    /// <exception cref="CompressionException">The file is missing or not JSON of this shape (OCB0007), or names an unknown
    /// setting or gives an invalid value (OCB0003).</exception>
    public static OverridesFile Load(string path, string modelPath)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Invalid(modelPath, path, $"it cannot be read: {e.Message}");
        }
        catch (JsonException e)
        {
            throw Invalid(modelPath, path, $"it is not valid JSON: {e.Message}");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw Invalid(modelPath, path, "its top level must be an object with \"opTypes\" and/or \"nodes\"");
            }

            var opTypes = new Dictionary<string, Dictionary<Setting, (object, SettingOrigin)>>(StringComparer.Ordinal);
            var nodes = new Dictionary<string, Dictionary<Setting, (object, SettingOrigin)>>(StringComparer.Ordinal);
            foreach (JsonProperty section in document.RootElement.EnumerateObject())
            {
                (Dictionary<string, Dictionary<Setting, (object, SettingOrigin)>> target, SettingLevel level, string kind) = section.Name switch
                {
                    "opTypes" => (opTypes, SettingLevel.OpType, "op type"),
                    "nodes" => (nodes, SettingLevel.Node, "node"),
                    _ => throw Invalid(modelPath, path, $"it has the key \"{section.Name}\"; the top level takes only \"opTypes\" and \"nodes\""),
                };
                if (section.Value.ValueKind != JsonValueKind.Object)
                {
                    throw Invalid(modelPath, path, $"\"{section.Name}\" must be an object of {kind} names");
                }

                foreach (JsonProperty entry in section.Value.EnumerateObject())
                {
                    var origin = new SettingOrigin(level, $"{kind} '{entry.Name}' in overrides file '{path}'");
                    target[entry.Name] = ReadEntry(entry.Value, origin, modelPath, path);
                }
            }

            return new OverridesFile(path, opTypes, nodes);
        }
    }

    /// <summary>Checks that every node the file names is in the model.</summary>
    /// <exception cref="CompressionException">A node name is not in the model (OCB0007).</exception>
    public void CheckNodesExist(Model model, string modelPath)
    {
        var names = new HashSet<string>(model.Nodes.Select(n => n.Name), StringComparer.Ordinal);
        string[] missing = Nodes.Keys.Where(n => !names.Contains(n)).Order(StringComparer.Ordinal).ToArray();
        if (missing.Length > 0)
        {
            throw Invalid(modelPath, Path, $"it names {(missing.Length == 1 ? "a node" : "nodes")} the model does not have: {string.Join(", ", missing.Select(m => $"'{m}'"))}. " +
                "Node names are the models' own (open it in Netron to see them)");
        }
    }

    private static Dictionary<Setting, (object, SettingOrigin)> ReadEntry(JsonElement element, SettingOrigin origin, string modelPath, string path)
    {
        var values = new Dictionary<Setting, (object, SettingOrigin)>();
        if (element.ValueKind == JsonValueKind.String && element.GetString() == "none")
        {
            foreach (Setting setting in SettingsCatalog.All.Where(s => s.Scope == SettingScope.Node && s.NoneValue is not null))
            {
                values[setting] = (setting.NoneValue!, origin);
            }

            return values;
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            throw Invalid(modelPath, path, $"the {origin.Description.Split(" in ")[0]} must map setting names to values, or be \"none\"");
        }

        foreach (JsonProperty property in element.EnumerateObject())
        {
            Setting? setting = SettingsCatalog.Find(property.Name);
            if (setting is null || setting.Scope != SettingScope.Node)
            {
                string nodeSettings = string.Join(", ", SettingsCatalog.All.Where(s => s.Scope == SettingScope.Node).Select(s => s.Name));
                string why = setting is null ? "is not a setting" : "applies to the whole model only (set it as OnnxModel metadata or a project property)";
                throw new CompressionException(DiagnosticCodes.InvalidSetting, modelPath,
                    $"'{property.Name}' ({origin.Description}) {why}. Settings an overrides file may set per op type or node: {nodeSettings}.");
            }

            string text = property.Value.ValueKind switch
            {
                JsonValueKind.String => property.Value.GetString()!,
                JsonValueKind.Number => property.Value.GetRawText(),
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                _ => throw new CompressionException(DiagnosticCodes.InvalidSetting, modelPath,
                    $"{setting.Name} ({origin.Description}) must be a string, number or boolean; valid values: {setting.ValidValues}."),
            };
            values[setting] = (SettingsResolver.ParseValue(setting, text, origin, modelPath), origin);
        }

        return values;
    }

    private static CompressionException Invalid(string modelPath, string path, string problem) =>
        new(DiagnosticCodes.InvalidOverrides, modelPath, $"The overrides file '{path}' cannot be used: {problem}. Fix the file (see the README's Overrides section) or leave Overrides unset.");
}

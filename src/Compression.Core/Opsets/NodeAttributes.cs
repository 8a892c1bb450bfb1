using Compression.Onnx.Protos;
using Google.Protobuf;
using AttributeType = Compression.Onnx.Protos.AttributeProto.Types.AttributeType;

namespace Compression.Core.Opsets;

/// <summary>Reads, writes and removes the attributes of a <see cref="NodeProto"/> by name.</summary>
internal static class NodeAttributes
{
    /// <summary>The attribute called <paramref name="name"/>, or null.</summary>
    public static AttributeProto? Find(this NodeProto node, string name)
    {
        foreach (AttributeProto attribute in node.Attribute)
        {
            if (attribute.Name == name)
            {
                return attribute;
            }
        }

        return null;
    }

    /// <summary>True when the node carries the attribute.</summary>
    public static bool Has(this NodeProto node, string name) => node.Find(name) is not null;

    /// <summary>The integer attribute, or <paramref name="fallback"/> when it is absent.</summary>
    public static long GetInt(this NodeProto node, string name, long fallback) => node.Find(name) is { } a ? a.I : fallback;

    /// <summary>The float attribute, or <paramref name="fallback"/> when it is absent.</summary>
    public static float GetFloat(this NodeProto node, string name, float fallback) => node.Find(name) is { } a ? a.F : fallback;

    /// <summary>The string attribute, or <paramref name="fallback"/> when it is absent.</summary>
    public static string GetString(this NodeProto node, string name, string fallback) => node.Find(name) is { } a ? a.S.ToStringUtf8() : fallback;

    /// <summary>The integer list attribute, or null when it is absent.</summary>
    public static long[]? GetInts(this NodeProto node, string name) => node.Find(name) is { } a ? [.. a.Ints] : null;

    /// <summary>The float list attribute, or null when it is absent.</summary>
    public static float[]? GetFloats(this NodeProto node, string name) => node.Find(name) is { } a ? [.. a.Floats] : null;

    /// <summary>Removes the attribute and returns it, or returns null when the node does not carry it.</summary>
    public static AttributeProto? Remove(this NodeProto node, string name)
    {
        for (int i = 0; i < node.Attribute.Count; i++)
        {
            if (node.Attribute[i].Name == name)
            {
                AttributeProto removed = node.Attribute[i];
                node.Attribute.RemoveAt(i);
                return removed;
            }
        }

        return null;
    }

    /// <summary>Sets an integer attribute, replacing any attribute of that name in place.</summary>
    public static void SetInt(this NodeProto node, string name, long value) =>
        Put(node, new AttributeProto { Name = name, Type = AttributeType.Int, I = value });

    /// <summary>Sets a string attribute, replacing any attribute of that name in place.</summary>
    public static void SetString(this NodeProto node, string name, string value) =>
        Put(node, new AttributeProto { Name = name, Type = AttributeType.String, S = ByteString.CopyFromUtf8(value) });

    /// <summary>Sets a float list attribute, replacing any attribute of that name in place.</summary>
    public static void SetFloats(this NodeProto node, string name, IEnumerable<float> values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeType.Floats };
        attribute.Floats.AddRange(values);
        Put(node, attribute);
    }

    /// <summary>An integer attribute for a new node.</summary>
    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeType.Int, I = value };

    private static void Put(NodeProto node, AttributeProto attribute)
    {
        for (int i = 0; i < node.Attribute.Count; i++)
        {
            if (node.Attribute[i].Name == attribute.Name)
            {
                node.Attribute[i] = attribute;
                return;
            }
        }

        node.Attribute.Add(attribute);
    }
}

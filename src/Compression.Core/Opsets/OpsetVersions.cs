using Compression.Onnx.Protos;

namespace Compression.Core.Opsets;

/// <summary>Reads and writes the version of the default ONNX operator set a model imports.</summary>
public static class OpsetVersions
{
    /// <summary>True for the default ONNX domain, written as "" or "ai.onnx".</summary>
    public static bool IsDefaultDomain(string? domain) => string.IsNullOrEmpty(domain) || domain == "ai.onnx";

    /// <summary>The imported version of the default domain, or null when the model does not import it.</summary>
    public static long? DefaultDomainVersion(ModelProto model)
    {
        foreach (OperatorSetIdProto opset in model.OpsetImport)
        {
            if (IsDefaultDomain(opset.Domain))
            {
                return opset.Version;
            }
        }

        return null;
    }

    /// <summary>Sets the imported version of the default domain, adding the import when missing.</summary>
    public static void SetDefaultDomainVersion(ModelProto model, long version)
    {
        foreach (OperatorSetIdProto opset in model.OpsetImport)
        {
            if (IsDefaultDomain(opset.Domain))
            {
                opset.Version = version;
                return;
            }
        }

        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = version });
    }
}

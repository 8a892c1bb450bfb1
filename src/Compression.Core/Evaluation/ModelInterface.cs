using Compression.Core.Runtime;
using Compression.Onnx.Protos;

namespace Compression.Core.Evaluation;

/// <summary>A model's inputs as its graph declares them, for reading samples without loading the model in ONNX Runtime.</summary>
public static class ModelInterface
{
    /// <summary>The main graph's inputs (initializers listed as inputs left out), in order.</summary>
    public static IReadOnlyList<OnnxValueInfo> Inputs(ModelProto model)
    {
        GraphProto graph = model.Graph ?? new GraphProto();
        var initializers = new HashSet<string>(graph.Initializer.Select(t => t.Name), StringComparer.Ordinal);
        return graph.Input.Where(v => !initializers.Contains(v.Name)).Select(Describe).ToList();
    }

    private static OnnxValueInfo Describe(ValueInfoProto value)
    {
        TypeProto? type = value.Type;
        if (type?.TensorType is not { } tensor)
        {
            OnnxValueKind kind = type?.ValueCase switch
            {
                TypeProto.ValueOneofCase.SequenceType => OnnxValueKind.Sequence,
                TypeProto.ValueOneofCase.MapType => OnnxValueKind.Map,
                TypeProto.ValueOneofCase.OptionalType => OnnxValueKind.Optional,
                TypeProto.ValueOneofCase.SparseTensorType => OnnxValueKind.SparseTensor,
                _ => OnnxValueKind.Unknown,
            };
            return new OnnxValueInfo(value.Name, kind, TensorElementType.Undefined, [], []);
        }

        var dims = new List<long>();
        var symbols = new List<string?>();
        foreach (TensorShapeProto.Types.Dimension dimension in tensor.Shape?.Dim ?? [])
        {
            bool sized = dimension.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && dimension.DimValue >= 0;
            bool named = dimension.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam && dimension.DimParam.Length > 0;
            dims.Add(sized ? dimension.DimValue : -1);
            symbols.Add(named ? dimension.DimParam : null);
        }

        return new OnnxValueInfo(value.Name, OnnxValueKind.Tensor, (TensorElementType)tensor.ElemType, [.. dims], [.. symbols]);
    }
}

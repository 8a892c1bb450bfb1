using Compression.Onnx.Protos;
using Google.Protobuf.Collections;

namespace Compression.Onnx;

/// <summary>
/// Finds every dense tensor a model holds, wherever the ONNX format allows one: graph initializers,
/// the values and indices of sparse initializers, tensors in node attributes (<c>t</c>, <c>tensors</c>,
/// <c>sparse_tensor</c>, <c>sparse_tensors</c>), subgraphs in attributes (<c>g</c>, <c>graphs</c>) at any
/// depth, training-info graphs, and function bodies and their default attribute values.
/// </summary>
public static class ModelTensors
{
    /// <summary>
    /// Every tensor in the model, each once: the main graph and its subgraphs first, then the
    /// training-info graphs, then the functions.
    /// </summary>
    /// <param name="model">The model to search; the returned tensors are its own instances, not copies.</param>
    public static IReadOnlyList<TensorProto> Enumerate(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var search = new Search();
        search.VisitGraph(model.Graph);
        foreach (var training in model.TrainingInfo)
        {
            search.VisitGraph(training.Initialization);
            search.VisitGraph(training.Algorithm);
        }

        foreach (var function in model.Functions)
        {
            search.VisitFunction(function);
        }

        return search.Found;
    }

    /// <summary>Every tensor in the graph and its subgraphs, each once, the graph's own initializers first.</summary>
    /// <param name="graph">The graph to search; the returned tensors are its own instances, not copies.</param>
    public static IReadOnlyList<TensorProto> Enumerate(GraphProto graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var search = new Search();
        search.VisitGraph(graph);
        return search.Found;
    }

    /// <summary>
    /// A walk with an explicit stack of subgraphs, so that deeply nested subgraphs cannot overflow the call stack.
    /// </summary>
    private sealed class Search
    {
        private readonly Stack<GraphProto> _pendingSubgraphs = new();

        public List<TensorProto> Found { get; } = new();

        public void VisitGraph(GraphProto? graph)
        {
            if (graph is null)
            {
                return;
            }

            _pendingSubgraphs.Push(graph);
            VisitPendingSubgraphs();
        }

        public void VisitFunction(FunctionProto function)
        {
            AddAttributes(function.AttributeProto);
            AddNodes(function.Node);
            VisitPendingSubgraphs();
        }

        private void VisitPendingSubgraphs()
        {
            while (_pendingSubgraphs.Count > 0)
            {
                var graph = _pendingSubgraphs.Pop();
                Found.AddRange(graph.Initializer);
                foreach (var sparse in graph.SparseInitializer)
                {
                    AddSparse(sparse);
                }

                AddNodes(graph.Node);
            }
        }

        private void AddNodes(RepeatedField<NodeProto> nodes)
        {
            foreach (var node in nodes)
            {
                AddAttributes(node.Attribute);
            }
        }

        private void AddAttributes(RepeatedField<AttributeProto> attributes)
        {
            foreach (var attribute in attributes)
            {
                if (attribute.T is not null)
                {
                    Found.Add(attribute.T);
                }

                Found.AddRange(attribute.Tensors);
                AddSparse(attribute.SparseTensor);
                foreach (var sparse in attribute.SparseTensors)
                {
                    AddSparse(sparse);
                }

                if (attribute.G is not null)
                {
                    _pendingSubgraphs.Push(attribute.G);
                }

                foreach (var subgraph in attribute.Graphs)
                {
                    _pendingSubgraphs.Push(subgraph);
                }
            }
        }

        private void AddSparse(SparseTensorProto? sparse)
        {
            if (sparse?.Values is not null)
            {
                Found.Add(sparse.Values);
            }

            if (sparse?.Indices is not null)
            {
                Found.Add(sparse.Indices);
            }
        }
    }
}

using Compression.Onnx;
using Compression.Onnx.Protos;
using Google.Protobuf.Collections;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core;

/// <summary>
/// Checks a model once, right after it is parsed and before anything reads it, so that a corrupt or malformed model is
/// one coded error (<see cref="DiagnosticCodes.InvalidModel"/>) that names what is wrong, never an exception from deep
/// inside a pass or a crash in ONNX Runtime. It checks every tensor's storage (<see cref="TensorStorage"/>: element type,
/// dims, data length, sparse indices), every declared element type, and every graph's structure: each name defined once,
/// every name read defined (in the graph or a graph around it), no cycles (counting what subgraphs read from outside), no
/// model-local function that calls itself directly or through others. Every walk uses an explicit stack, so that deeply
/// nested subgraphs cannot overflow the call stack.
/// </summary>
public static class ModelChecker
{
    /// <summary>Checks <paramref name="model"/>.</summary>
    /// <param name="model">The model as parsed.</param>
    /// <param name="modelPath">The model file, for messages.</param>
    /// <exception cref="CompressionException">OCB0002: what is wrong, where in the model, and what to do.</exception>
    public static void Check(ModelProto model, string modelPath)
    {
        ArgumentNullException.ThrowIfNull(model);
        try
        {
            // The main graph's tree is checked whole; the others (training graphs, subgraphs in functions) read names their
            // graphs do not define, so only their tensors and types are.
            var graphs = new List<GraphScope>();
            if (model.Graph is not null)
            {
                CollectGraphs(new GraphScope(model.Graph, null, "the main graph"), graphs);
            }

            int mainGraphs = graphs.Count;

            foreach (TrainingInfoProto training in model.TrainingInfo)
            {
                if (training.Initialization is not null)
                {
                    CollectGraphs(new GraphScope(training.Initialization, null, "a training initialization graph"), graphs);
                }

                if (training.Algorithm is not null)
                {
                    CollectGraphs(new GraphScope(training.Algorithm, null, "a training algorithm graph"), graphs);
                }
            }

            foreach (FunctionProto function in model.Functions)
            {
                foreach (NodeProto node in function.Node)
                {
                    foreach (GraphScope subgraph in Subgraphs(node, null, $"function '{function.Name}'"))
                    {
                        CollectGraphs(subgraph, graphs);
                    }
                }

                CheckAttributes(function.AttributeProto, $"function '{function.Name}'");
                CheckNodeAttributes(function.Node, $"function '{function.Name}'");
            }

            foreach (GraphScope graph in graphs)
            {
                CheckTensors(graph);
                CheckDeclaredTypes(graph);
            }

            CheckStructure(graphs.GetRange(0, mainGraphs));
            CheckFunctions(model);
        }
        catch (OnnxFormatException e)
        {
            throw Invalid(modelPath, e.Message, e);
        }
    }

    private static CompressionException Invalid(string modelPath, string problem, Exception? inner = null) =>
        new(DiagnosticCodes.InvalidModel, modelPath,
            $"'{modelPath}' is not a valid ONNX model: {problem} Export the model again, or check it with onnx.checker.check_model(model, full_check=True).",
            inner);

    /// <summary>The graph and every graph nested in it, parents before their subgraphs.</summary>
    private static void CollectGraphs(GraphScope root, List<GraphScope> found)
    {
        var pending = new Stack<GraphScope>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            GraphScope graph = pending.Pop();
            found.Add(graph);
            foreach (NodeProto node in graph.Proto.Node)
            {
                foreach (GraphScope subgraph in Subgraphs(node, graph, graph.Where))
                {
                    graph.Children.Add(subgraph);
                    pending.Push(subgraph);
                }
            }
        }
    }

    private static IEnumerable<GraphScope> Subgraphs(NodeProto node, GraphScope? parent, string where)
    {
        foreach (AttributeProto attribute in node.Attribute)
        {
            string what = $"the subgraph '{attribute.Name}' of node {NodeName(node)} in {where}";
            if (attribute.G is not null)
            {
                yield return new GraphScope(attribute.G, parent, what) { Owner = node };
            }

            foreach (GraphProto graph in attribute.Graphs)
            {
                yield return new GraphScope(graph, parent, what) { Owner = node };
            }
        }
    }

    private static string NodeName(NodeProto node) => node.Name.Length > 0 ? $"'{node.Name}' ({node.OpType})" : $"{node.OpType} (unnamed)";

    private static void CheckTensors(GraphScope graph)
    {
        foreach (TensorProto tensor in graph.Proto.Initializer)
        {
            TensorStorage.Check(tensor);
        }

        foreach (SparseTensorProto sparse in graph.Proto.SparseInitializer)
        {
            TensorStorage.CheckSparse(sparse);
        }

        CheckNodeAttributes(graph.Proto.Node, graph.Where);
    }

    private static void CheckNodeAttributes(RepeatedField<NodeProto> nodes, string where)
    {
        foreach (NodeProto node in nodes)
        {
            CheckAttributes(node.Attribute, $"node {NodeName(node)} in {where}");
        }
    }

    private static void CheckAttributes(RepeatedField<AttributeProto> attributes, string where)
    {
        foreach (AttributeProto attribute in attributes)
        {
            try
            {
                if (attribute.T is not null)
                {
                    TensorStorage.Check(attribute.T);
                }

                foreach (TensorProto tensor in attribute.Tensors)
                {
                    TensorStorage.Check(tensor);
                }

                if (attribute.SparseTensor is not null)
                {
                    TensorStorage.CheckSparse(attribute.SparseTensor);
                }

                foreach (SparseTensorProto sparse in attribute.SparseTensors)
                {
                    TensorStorage.CheckSparse(sparse);
                }
            }
            catch (OnnxFormatException e)
            {
                throw new OnnxFormatException($"The attribute '{attribute.Name}' of {where}: {e.Message}", e);
            }
        }
    }

    /// <summary>Every element type a graph declares (inputs, outputs, value_info) is one ONNX knows.</summary>
    private static void CheckDeclaredTypes(GraphScope graph)
    {
        foreach (ValueInfoProto info in graph.Proto.Input.Concat(graph.Proto.Output).Concat(graph.Proto.ValueInfo))
        {
            var pending = new Stack<TypeProto>();
            if (info.Type is not null)
            {
                pending.Push(info.Type);
            }

            while (pending.Count > 0)
            {
                TypeProto type = pending.Pop();
                int elementType = type.ValueCase switch
                {
                    TypeProto.ValueOneofCase.TensorType => type.TensorType.ElemType,
                    TypeProto.ValueOneofCase.SparseTensorType => type.SparseTensorType.ElemType,
                    TypeProto.ValueOneofCase.MapType => type.MapType.KeyType,
                    _ => 0,
                };
                if (elementType != 0 && !Enum.IsDefined((DataType)elementType))
                {
                    throw new OnnxFormatException(
                        $"'{info.Name}' in {graph.Where} is declared with element type {elementType}, which is no ONNX element type.");
                }

                TypeProto? inner = type.ValueCase switch
                {
                    TypeProto.ValueOneofCase.SequenceType => type.SequenceType.ElemType,
                    TypeProto.ValueOneofCase.MapType => type.MapType.ValueType,
                    TypeProto.ValueOneofCase.OptionalType => type.OptionalType.ElemType,
                    _ => null,
                };
                if (inner is not null)
                {
                    pending.Push(inner);
                }
            }
        }
    }

    /// <summary>Names defined once, every name read defined, and no cycles, in every graph of the main graph's tree.</summary>
    private static void CheckStructure(List<GraphScope> graphs)
    {
        foreach (GraphScope graph in graphs)
        {
            CheckDefinitions(graph);
        }

        // Names a subgraph reads from the graphs around it count as inputs of the node that holds it: children before parents.
        for (int i = graphs.Count - 1; i >= 0; i--)
        {
            GraphScope graph = graphs[i];
            foreach (NodeProto node in graph.Proto.Node)
            {
                foreach (string input in node.Input)
                {
                    if (input.Length > 0 && !graph.Defined.Contains(input))
                    {
                        graph.FreeNames.Add(input);
                    }
                }
            }

            foreach (ValueInfoProto output in graph.Proto.Output)
            {
                if (!graph.Defined.Contains(output.Name))
                {
                    graph.FreeNames.Add(output.Name);
                }
            }

            foreach (GraphScope child in graph.Children)
            {
                foreach (string name in child.FreeNames)
                {
                    if (!graph.Defined.Contains(name))
                    {
                        graph.FreeNames.Add(name);
                    }
                }
            }

            if (graph.Parent is null)
            {
                foreach (string name in graph.FreeNames.Order(StringComparer.Ordinal))
                {
                    throw new OnnxFormatException(DanglingMessage(graph, name));
                }
            }
            else
            {
                foreach (string name in graph.FreeNames.Order(StringComparer.Ordinal))
                {
                    if (!DefinedAround(graph.Parent, name))
                    {
                        throw new OnnxFormatException(DanglingMessage(graph, name));
                    }
                }
            }
        }

        foreach (GraphScope graph in graphs)
        {
            CheckAcyclic(graph);
            CheckWeightReaders(graph);
        }
    }

    /// <summary>
    /// The operators whose constant inputs the passes rewrite (MatMul, Gemm, Conv, Gather) have the inputs and outputs
    /// their ONNX schema gives, and their initializer inputs the ranks it allows: ONNX Runtime refuses such a model anyway,
    /// and the passes may rely on them. Convolutions have a group of at least 1, which ONNX Runtime does not check.
    /// </summary>
    private static void CheckWeightReaders(GraphScope graph)
    {
        foreach (NodeProto node in graph.Proto.Node)
        {
            if (node.Domain.Length > 0 && node.Domain != "ai.onnx")
            {
                continue;
            }

            // ONNX Runtime 1.31 divides by a convolution's group while it creates the session: group=0 is an integer division
            // by zero that kills the process (SIGFPE on x64), so the model is refused before ONNX Runtime sees it.
            if (node.OpType is "Conv" or "ConvTranspose" or "ConvInteger" or "QLinearConv"
                && node.Attribute.FirstOrDefault(a => a.Name == "group") is { } group && group.I < 1)
            {
                throw new OnnxFormatException(
                    $"Node {NodeName(node)} in {graph.Where} has group={group.I}; {node.OpType} takes a group of at least 1 (ONNX Runtime crashes on 0).");
            }

            // Inputs (fewest, most), and the fewest dims each input may have (and the most, for Gemm's 2-D matrices).
            (int Fewest, int Most, int[] MinRank, int[] MaxRank)? schema = node.OpType switch
            {
                "MatMul" => (2, 2, [1, 1], [int.MaxValue, int.MaxValue]),
                "Gemm" => (2, 3, [2, 2, 0], [2, 2, 2]),
                "Conv" => (2, 3, [3, 3, 1], [int.MaxValue, int.MaxValue, 1]),
                "Gather" => (2, 2, [1, 0], [int.MaxValue, int.MaxValue]),
                _ => null,
            };
            if (schema is not { } op)
            {
                continue;
            }

            int given = node.Input.Count;
            while (given > 0 && node.Input[given - 1].Length == 0)
            {
                given--;
            }

            if (given < op.Fewest || given > op.Most || node.Input.Take(op.Fewest).Any(i => i.Length == 0) || node.Output.Count != 1 || node.Output[0].Length == 0)
            {
                string inputs = op.Fewest == op.Most ? $"{op.Fewest}" : $"{op.Fewest} or {op.Most}";
                throw new OnnxFormatException(
                    $"Node {NodeName(node)} in {graph.Where} has {given} inputs and {node.Output.Count} outputs; {node.OpType} takes {inputs} inputs and computes one output.");
            }

            for (int i = 0; i < given; i++)
            {
                if (node.Input[i].Length > 0 && FindInitializer(graph, node.Input[i]) is { } tensor
                    && (tensor.Dims.Count < op.MinRank[i] || tensor.Dims.Count > op.MaxRank[i]))
                {
                    string allowed = op.MaxRank[i] == op.MinRank[i] ? $"{op.MinRank[i]}-D" : op.MaxRank[i] == int.MaxValue ? $"at least {op.MinRank[i]}-D" : $"at most {op.MaxRank[i]}-D";
                    throw new OnnxFormatException(
                        $"Node {NodeName(node)} in {graph.Where} reads the initializer '{tensor.Name}' of shape {TensorShape.Format(tensor.Dims)} as input {i}, " +
                        $"which {node.OpType} takes {allowed}.");
                }
            }
        }
    }

    /// <summary>The initializer a name refers to in the graph's scope, or null when it names another value.</summary>
    private static TensorProto? FindInitializer(GraphScope? graph, string name)
    {
        for (; graph is not null; graph = graph.Parent)
        {
            if (graph.Defined.Contains(name))
            {
                // An initializer that a graph input of the same name overrides is still the constant before IR 4 (listed
                // there too) and a default after; either way the passes read the tensor.
                graph.Initializers ??= graph.Proto.Initializer.GroupBy(t => t.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
                return graph.Initializers.GetValueOrDefault(name);
            }
        }

        return null;
    }

    private static bool DefinedAround(GraphScope? graph, string name)
    {
        for (; graph is not null; graph = graph.Parent)
        {
            if (graph.Defined.Contains(name))
            {
                return true;
            }
        }

        return false;
    }

    private static string DanglingMessage(GraphScope graph, string name)
    {
        string reader = graph.Proto.Output.Any(o => o.Name == name) && !graph.Proto.Node.Any(n => n.Input.Contains(name))
            ? "is an output of"
            : "is read by a node of";
        return $"'{name}' {reader} {graph.Where} (or a subgraph of it), but no node, initializer or graph input defines it.";
    }

    private static void CheckDefinitions(GraphScope graph)
    {
        var initializers = new HashSet<string>(StringComparer.Ordinal);
        foreach (TensorProto tensor in graph.Proto.Initializer)
        {
            Define(graph, tensor.Name, "an initializer", initializers);
        }

        foreach (SparseTensorProto sparse in graph.Proto.SparseInitializer)
        {
            Define(graph, sparse.Values?.Name ?? string.Empty, "a sparse initializer", initializers);
        }

        var inputs = new HashSet<string>(StringComparer.Ordinal);
        foreach (ValueInfoProto input in graph.Proto.Input)
        {
            if (!inputs.Add(input.Name))
            {
                throw new OnnxFormatException($"{graph.Where} lists the input '{input.Name}' twice.");
            }

            // An input may name an initializer: before IR 4 every initializer is listed among the inputs, later it gives a default.
            graph.Defined.Add(input.Name);
        }

        foreach (NodeProto node in graph.Proto.Node)
        {
            foreach (string output in node.Output)
            {
                if (output.Length > 0 && !graph.Defined.Add(output))
                {
                    throw new OnnxFormatException(
                        $"'{output}' is computed by node {NodeName(node)} in {graph.Where} but is already defined there (by another node, an initializer " +
                        "or a graph input): every value must have one definition.");
                }
            }
        }
    }

    private static void Define(GraphScope graph, string name, string what, HashSet<string> initializers)
    {
        if (name.Length == 0)
        {
            throw new OnnxFormatException($"{graph.Where} has {what} without a name.");
        }

        if (!initializers.Add(name))
        {
            throw new OnnxFormatException($"{graph.Where} has two initializers named '{name}'.");
        }

        graph.Defined.Add(name);
    }

    /// <summary>
    /// The nodes of one graph form no cycle: a node reads (directly, or through its subgraphs) only values that graph
    /// inputs, initializers, outer graphs, or other nodes that do not depend on it define.
    /// </summary>
    private static void CheckAcyclic(GraphScope graph)
    {
        RepeatedField<NodeProto> nodes = graph.Proto.Node;
        var producer = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < nodes.Count; i++)
        {
            foreach (string output in nodes[i].Output)
            {
                if (output.Length > 0)
                {
                    producer[output] = i;
                }
            }
        }

        var readers = new List<int>[nodes.Count];
        var pendingInputs = new int[nodes.Count];
        var childrenByNode = graph.Children.ToLookup(c => c.Owner!, ReferenceEqualityComparer.Instance);
        for (int i = 0; i < nodes.Count; i++)
        {
            var sources = new HashSet<int>();
            foreach (string input in nodes[i].Input.Concat(childrenByNode[nodes[i]].SelectMany(c => c.FreeNames)))
            {
                if (input.Length > 0 && producer.TryGetValue(input, out int source))
                {
                    sources.Add(source);
                }
            }

            foreach (int source in sources)
            {
                (readers[source] ??= []).Add(i);
                pendingInputs[i]++;
            }
        }

        var ready = new Queue<int>();
        for (int i = 0; i < nodes.Count; i++)
        {
            if (pendingInputs[i] == 0)
            {
                ready.Enqueue(i);
            }
        }

        int ordered = 0;
        while (ready.Count > 0)
        {
            int node = ready.Dequeue();
            ordered++;
            foreach (int reader in readers[node] ?? [])
            {
                if (--pendingInputs[reader] == 0)
                {
                    ready.Enqueue(reader);
                }
            }
        }

        if (ordered < nodes.Count)
        {
            int stuck = Enumerable.Range(0, nodes.Count).First(i => pendingInputs[i] > 0);
            throw new OnnxFormatException(
                $"The nodes of {graph.Where} form a cycle: node {NodeName(nodes[stuck])} depends, through the values it reads, on its own outputs.");
        }
    }

    /// <summary>No model-local function calls itself, directly or through other functions (ONNX Runtime would recurse without end).</summary>
    private static void CheckFunctions(ModelProto model)
    {
        var index = new Dictionary<(string Domain, string Name, string Overload), int>();
        for (int i = 0; i < model.Functions.Count; i++)
        {
            FunctionProto function = model.Functions[i];
            if (!index.TryAdd((function.Domain, function.Name, function.Overload), i))
            {
                throw new OnnxFormatException($"The model defines the function '{function.Domain}.{function.Name}' twice.");
            }
        }

        if (index.Count == 0)
        {
            return;
        }

        // Calls of each function: its nodes and the nodes of subgraphs in them.
        var calls = new List<int>[model.Functions.Count];
        for (int i = 0; i < model.Functions.Count; i++)
        {
            calls[i] = [];
            var pending = new Stack<NodeProto>(model.Functions[i].Node);
            while (pending.Count > 0)
            {
                NodeProto node = pending.Pop();
                if (index.TryGetValue((node.Domain, node.OpType, node.Overload), out int callee))
                {
                    calls[i].Add(callee);
                }

                foreach (AttributeProto attribute in node.Attribute)
                {
                    foreach (GraphProto graph in attribute.Graphs.Prepend(attribute.G))
                    {
                        if (graph is not null)
                        {
                            foreach (NodeProto inner in graph.Node)
                            {
                                pending.Push(inner);
                            }
                        }
                    }
                }
            }
        }

        // Depth-first with an explicit stack: 0 unvisited, 1 on the current path, 2 done.
        var state = new int[calls.Length];
        for (int start = 0; start < calls.Length; start++)
        {
            if (state[start] != 0)
            {
                continue;
            }

            var path = new Stack<(int Function, int Next)>();
            path.Push((start, 0));
            state[start] = 1;
            while (path.Count > 0)
            {
                (int function, int next) = path.Pop();
                if (next < calls[function].Count)
                {
                    path.Push((function, next + 1));
                    int callee = calls[function][next];
                    if (state[callee] == 1)
                    {
                        FunctionProto f = model.Functions[callee];
                        string how = callee == function ? "calls itself" : "calls itself through other functions";
                        throw new OnnxFormatException($"The model's function '{f.Domain}.{f.Name}' {how}; ONNX functions cannot be recursive.");
                    }

                    if (state[callee] == 0)
                    {
                        state[callee] = 1;
                        path.Push((callee, 0));
                    }
                }
                else
                {
                    state[function] = 2;
                }
            }
        }
    }

    private sealed class GraphScope(GraphProto proto, GraphScope? parent, string where)
    {
        public GraphProto Proto { get; } = proto;

        public GraphScope? Parent { get; } = parent;

        public string Where { get; } = where;

        public NodeProto? Owner { get; init; }

        public List<GraphScope> Children { get; } = [];

        public HashSet<string> Defined { get; } = new(StringComparer.Ordinal);

        public HashSet<string> FreeNames { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, TensorProto>? Initializers { get; set; }
    }
}

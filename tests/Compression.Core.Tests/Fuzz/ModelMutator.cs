using Compression.Onnx;
using Compression.Onnx.Protos;
using Google.Protobuf;
using AttributeType = Compression.Onnx.Protos.AttributeProto.Types.AttributeType;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Fuzz;

/// <summary>
/// Makes broken models from valid ones, deterministically from a case number: byte-level damage (bit flips, truncation,
/// protobuf length fields set to other values, up to 2^31 - 1) and structural damage written through the protobuf
/// messages (wrong element types, raw_data and typed-field lengths that miss the dims, negative and huge dims, zero dims,
/// cycles, dangling inputs, duplicate names, recursive model-local functions, subgraphs nested deeply or reading what
/// nothing defines, graph inputs without shapes or types, sparse initializers with indices out of range, odd opsets).
/// Each case applies one to three mutations; <see cref="Describe"/> says which.
/// </summary>
internal static class ModelMutator
{
    /// <summary>The mutation kinds, in the order a case number picks them.</summary>
    public static readonly string[] Kinds =
    [
        "bit-flips", "truncation", "length-field", "data-type", "raw-length", "typed-count", "dims", "zero-dim", "cycle",
        "dangling-input", "duplicate-name", "recursive-function", "subgraph", "deep-subgraphs", "graph-input", "sparse",
        "opset", "op-type", "attribute", "ir-version",
    ];

    /// <summary>The bytes of case <paramref name="caseNumber"/> made from <paramref name="seed"/>, and what was done.</summary>
    public static (byte[] Bytes, string Description) Mutate(byte[] seed, int caseNumber)
    {
        var random = new Random(caseNumber * 7919 + 1);
        int count = 1 + (random.Next(4) == 0 ? random.Next(1, 3) : 0);
        var done = new List<string>();
        byte[] bytes = seed;
        for (int m = 0; m < count; m++)
        {
            string kind = m == 0 ? Kinds[caseNumber % Kinds.Length] : Kinds[random.Next(Kinds.Length)];
            (bytes, string what) = Apply(bytes, kind, random);
            done.Add(what);
        }

        return (bytes, string.Join("; ", done));
    }

    private static (byte[] Bytes, string What) Apply(byte[] bytes, string kind, Random random)
    {
        switch (kind)
        {
            case "bit-flips":
            {
                byte[] copy = (byte[])bytes.Clone();
                int flips = 1 + random.Next(8);
                for (int i = 0; i < flips && copy.Length > 0; i++)
                {
                    copy[random.Next(copy.Length)] ^= (byte)(1 << random.Next(8));
                }

                return (copy, $"{flips} bit flips");
            }

            case "truncation":
            {
                int length = random.Next(bytes.Length + 1);
                return (bytes[..length], $"truncated to {length} of {bytes.Length} bytes");
            }

            case "length-field":
                return EditLengthField(bytes, random);
        }

        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException)
        {
            // An earlier mutation left bytes that do not parse: damage them further at the byte level.
            return Apply(bytes, "bit-flips", random);
        }

        string what = MutateModel(model, kind, random);
        return (model.ToByteArray(), what);
    }

    private static string MutateModel(ModelProto model, string kind, Random random)
    {
        GraphProto graph = model.Graph ??= new GraphProto();
        List<TensorProto> tensors = [.. ModelTensors.Enumerate(model)];
        TensorProto? tensor = tensors.Count > 0 ? tensors[random.Next(tensors.Count)] : null;
        NodeProto? node = graph.Node.Count > 0 ? graph.Node[random.Next(graph.Node.Count)] : null;
        switch (kind)
        {
            case "data-type" when tensor is not null:
            {
                int[] choices = [-1, 0, 8, 14, 15, 24, 25, 26, 100, int.MaxValue, int.MinValue, 1, 2, 3, 6, 7, 10, 11, 16, 21, 22, 23];
                tensor.DataType = choices[random.Next(choices.Length)];
                return $"tensor '{tensor.Name}' data_type {tensor.DataType}";
            }

            case "raw-length" when tensor is not null:
            {
                byte[] raw = tensor.RawData.ToByteArray();
                int length = random.Next(3) switch { 0 => Math.Max(0, raw.Length - 1 - random.Next(8)), 1 => raw.Length + 1 + random.Next(8), _ => random.Next(raw.Length + 1) };
                Array.Resize(ref raw, length);
                tensor.RawData = ByteString.CopyFrom(raw);
                return $"tensor '{tensor.Name}' raw_data {length} bytes";
            }

            case "typed-count" when tensor is not null:
            {
                int count = random.Next(3) == 0 ? 0 : random.Next(1, 64);
                tensor.ClearRawData();
                tensor.FloatData.Clear();
                tensor.Int32Data.Clear();
                tensor.Int64Data.Clear();
                for (int i = 0; i < count; i++)
                {
                    tensor.FloatData.Add(i);
                    tensor.Int32Data.Add(i * 1000);
                    tensor.Int64Data.Add(i);
                }

                return $"tensor '{tensor.Name}' typed fields of {count}";
            }

            case "dims" when tensor is not null:
            {
                long[] choices = [-1, -2, int.MinValue, 1L << 31, 1L << 40, long.MaxValue, 3, 1, 100_000];
                if (tensor.Dims.Count == 0 || random.Next(4) == 0)
                {
                    tensor.Dims.Add(choices[random.Next(choices.Length)]);
                }
                else
                {
                    tensor.Dims[random.Next(tensor.Dims.Count)] = choices[random.Next(choices.Length)];
                }

                return $"tensor '{tensor.Name}' dims {TensorShape.Format(tensor.Dims)}";
            }

            case "zero-dim" when tensor is not null:
            {
                if (tensor.Dims.Count == 0)
                {
                    tensor.Dims.Add(0);
                }
                else
                {
                    tensor.Dims[random.Next(tensor.Dims.Count)] = 0;
                }

                tensor.ClearRawData();
                tensor.FloatData.Clear();
                tensor.Int32Data.Clear();
                tensor.Int64Data.Clear();
                tensor.DoubleData.Clear();
                tensor.Uint64Data.Clear();
                tensor.StringData.Clear();
                if (random.Next(2) == 0 && tensor.DataType != (int)DataType.String)
                {
                    tensor.RawData = ByteString.Empty;
                }

                return $"tensor '{tensor.Name}' with a zero dim, {TensorShape.Format(tensor.Dims)}";
            }

            case "cycle" when node is not null && node.Input.Count > 0:
            {
                int index = graph.Node.IndexOf(node);
                NodeProto source = graph.Node[index + random.Next(graph.Node.Count - index)];
                if (source.Output.Count == 0)
                {
                    return "no cycle (no output)";
                }

                node.Input[random.Next(node.Input.Count)] = source.Output[0];
                return $"node '{node.Name}' reads '{source.Output[0]}' of itself or a later node";
            }

            case "dangling-input" when node is not null:
            {
                if (node.Input.Count == 0 || random.Next(3) == 0)
                {
                    graph.Output.Add(new ValueInfoProto { Name = "nothing_defines_this_output" });
                    return "a graph output nothing defines";
                }

                node.Input[random.Next(node.Input.Count)] = "nothing_defines_this";
                return $"node '{node.Name}' reads a name nothing defines";
            }

            case "duplicate-name" when node is not null && node.Output.Count > 0:
            {
                string[] names = [.. graph.Node.SelectMany(n => n.Output), .. graph.Initializer.Select(t => t.Name), .. graph.Input.Select(i => i.Name)];
                string name = names[random.Next(names.Length)];
                if (random.Next(3) == 0 && graph.Initializer.Count > 0)
                {
                    graph.Initializer.Add(graph.Initializer[0].Clone());
                    return $"initializer '{graph.Initializer[0].Name}' twice";
                }

                node.Output[0] = name;
                return $"node '{node.Name}' computes '{name}', defined elsewhere too";
            }

            case "recursive-function":
            {
                bool mutual = random.Next(2) == 0;
                model.Functions.Add(Function("F", mutual ? "G" : "F"));
                if (mutual)
                {
                    model.Functions.Add(Function("G", "F"));
                }

                model.OpsetImport.Add(new OperatorSetIdProto { Domain = "fuzz", Version = 1 });
                if (graph.Input.Count > 0)
                {
                    var call = new NodeProto { OpType = "F", Domain = "fuzz", Name = "call_F" };
                    call.Input.Add(graph.Input[0].Name);
                    call.Output.Add("call_F_out");
                    graph.Node.Add(call);
                    graph.Output.Add(new ValueInfoProto { Name = "call_F_out", Type = graph.Input[0].Type?.Clone() });
                }

                return mutual ? "functions F and G call each other" : "function F calls itself";
            }

            case "subgraph" when node is not null:
            {
                // An If whose branches read the node's first input (an outer name) and, at random, one nothing defines.
                string outer = node.Input.FirstOrDefault(i => i.Length > 0) ?? graph.Input.FirstOrDefault()?.Name ?? "x";
                string read = random.Next(3) == 0 ? "nothing_defines_this" : outer;
                string condition = graph.Node.SelectMany(n => n.Output).FirstOrDefault() ?? outer;
                var ifNode = new NodeProto { OpType = "If", Name = "fuzz_if" };
                ifNode.Input.Add(condition);
                ifNode.Output.Add("fuzz_if_out");
                ifNode.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeType.Graph, G = Branch("then", read) });
                ifNode.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeType.Graph, G = Branch("else", outer) });
                graph.Node.Insert(random.Next(graph.Node.Count + 1), ifNode);
                return $"an If reading '{read}' inserted";
            }

            case "deep-subgraphs":
            {
                // Nested If bodies, deep enough for protobuf's and the compressor's recursion to matter.
                int depth = new[] { 50, 200, 320, 340, 400 }[random.Next(5)];
                GraphProto inner = Branch("level0", graph.Input.FirstOrDefault()?.Name ?? "x");
                for (int level = 1; level < depth; level++)
                {
                    var wrapper = new GraphProto { Name = $"level{level}" };
                    var nested = new NodeProto { OpType = "If", Name = $"if{level}" };
                    nested.Input.Add("cond");
                    nested.Output.Add($"level{level}_out");
                    nested.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeType.Graph, G = inner });
                    nested.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeType.Graph, G = Branch($"else{level}", "cond") });
                    wrapper.Node.Add(nested);
                    wrapper.Output.Add(new ValueInfoProto { Name = $"level{level}_out" });
                    inner = wrapper;
                }

                var top = new NodeProto { OpType = "If", Name = "deep_if" };
                top.Input.Add("cond");
                top.Output.Add("deep_out");
                top.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeType.Graph, G = inner });
                top.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeType.Graph, G = Branch("else", "cond") });
                graph.Input.Add(new ValueInfoProto { Name = "cond", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Bool, Shape = new TensorShapeProto() } } });
                graph.Node.Add(top);
                graph.Output.Add(new ValueInfoProto { Name = "deep_out" });
                return $"If subgraphs nested {depth} deep";
            }

            case "graph-input" when graph.Input.Count > 0:
            {
                ValueInfoProto input = graph.Input[random.Next(graph.Input.Count)];
                switch (random.Next(5))
                {
                    case 0:
                        input.Type = null;
                        return $"input '{input.Name}' without a type";
                    case 1:
                        if (input.Type?.TensorType is { } unshaped)
                        {
                            unshaped.Shape = null;
                        }

                        return $"input '{input.Name}' without a shape";
                    case 2:
                        if (input.Type?.TensorType is { } type)
                        {
                            type.ElemType = new[] { -1, 0, 100, 8 }[random.Next(4)];
                        }

                        return $"input '{input.Name}' of element type {input.Type?.TensorType?.ElemType}";
                    default:
                        if (input.Type?.TensorType?.Shape is { } shape)
                        {
                            long size = new[] { 1L << 31, -5, 1L << 40, 0, long.MaxValue }[random.Next(5)];
                            var dim = new TensorShapeProto.Types.Dimension { DimValue = size };
                            if (shape.Dim.Count > 0)
                            {
                                shape.Dim[random.Next(shape.Dim.Count)] = dim;
                            }
                            else
                            {
                                shape.Dim.Add(dim);
                            }

                            return $"input '{input.Name}' with a dim of {size}";
                        }

                        return $"input '{input.Name}' unchanged (no shape)";
                }
            }

            case "sparse":
            {
                long[] dense = [4, 5];
                long index = new[] { 0L, 19L, 20L, 1000L, -1L, long.MaxValue }[random.Next(6)];
                var sparse = new SparseTensorProto
                {
                    Values = TensorValues.Create<float>("fuzz_sparse", [2], [1f, 2f]),
                    Indices = TensorValues.Create<long>(string.Empty, [2], [3, index]),
                };
                sparse.Dims.AddRange(dense);
                if (random.Next(2) == 0 && node is not null && node.Input.Count > 0)
                {
                    node.Input[random.Next(node.Input.Count)] = "fuzz_sparse";
                }

                graph.SparseInitializer.Add(sparse);
                return $"sparse initializer with index {index} in [4, 5]";
            }

            case "opset":
            {
                long version = new[] { 0L, 1L, 5L, 6L, 7L, 12L, 22L, 23L, 1000L, -1L }[random.Next(10)];
                if (model.OpsetImport.Count == 0 || random.Next(5) == 0)
                {
                    model.OpsetImport.Clear();
                    return "no opset import";
                }

                model.OpsetImport[0].Version = version;
                return $"opset {version}";
            }

            case "op-type" when node is not null:
            {
                string[] ops = ["MatMul", "Gemm", "Conv", "Gather", "Relu", "Loop", "If", "Scan", "Unknown", "", "DequantizeLinear", "Cast", "Constant", "Reshape"];
                node.OpType = ops[random.Next(ops.Length)];
                if (random.Next(4) == 0)
                {
                    node.Domain = new[] { "com.microsoft", "unknown.domain", "ai.onnx.ml" }[random.Next(3)];
                }

                return $"node '{node.Name}' made {node.Domain}.{node.OpType}";
            }

            case "attribute" when node is not null:
            {
                string[] names = ["transB", "alpha", "to", "axis", "value", "kernel_shape", "group", "pads", "then_branch", "body"];
                var attribute = new AttributeProto { Name = names[random.Next(names.Length)] };
                switch (random.Next(5))
                {
                    case 0: attribute.Type = AttributeType.String; attribute.S = ByteString.CopyFromUtf8("x"); break;
                    case 1: attribute.Type = AttributeType.Int; attribute.I = new[] { -1L, 0L, long.MaxValue, 1000L }[random.Next(4)]; break;
                    case 2: attribute.Type = AttributeType.Tensor; attribute.T = TensorValues.Create<float>("t", [2], [1f, 2f]); attribute.T.DataType = -1; break;
                    case 3: attribute.Type = AttributeType.Ints; attribute.Ints.AddRange([-1, 0, long.MaxValue]); break;
                    default: attribute.Type = AttributeType.Graph; attribute.G = new GraphProto { Name = "empty" }; break;
                }

                node.Attribute.Insert(0, attribute);
                return $"node '{node.Name}' attribute {attribute.Name} ({attribute.Type})";
            }

            case "ir-version":
            {
                model.IrVersion = new[] { 0L, 1L, 3L, 4L, 11L, 100L, -1L }[random.Next(7)];
                return $"ir_version {model.IrVersion}";
            }
        }

        return $"{kind}: nothing to mutate";
    }

    private static FunctionProto Function(string name, string callee)
    {
        var function = new FunctionProto { Name = name, Domain = "fuzz" };
        function.Input.Add("x");
        function.Output.Add("y");
        function.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 13 });
        function.OpsetImport.Add(new OperatorSetIdProto { Domain = "fuzz", Version = 1 });
        var call = new NodeProto { OpType = callee, Domain = "fuzz", Name = $"{name}_calls_{callee}" };
        call.Input.Add("x");
        call.Output.Add("y");
        function.Node.Add(call);
        return function;
    }

    private static GraphProto Branch(string name, string read)
    {
        var graph = new GraphProto { Name = name };
        var identity = new NodeProto { OpType = "Identity", Name = name + "_identity" };
        identity.Input.Add(read);
        identity.Output.Add(name + "_out");
        graph.Node.Add(identity);
        graph.Output.Add(new ValueInfoProto { Name = name + "_out" });
        return graph;
    }

    /// <summary>Sets one length-delimited field's length (at any depth the walk reaches) to another value, often a huge one.</summary>
    private static (byte[] Bytes, string What) EditLengthField(byte[] bytes, Random random)
    {
        var fields = new List<(int Offset, int Size, long Length)>();
        FindLengthFields(bytes, 0, bytes.Length, 0, fields);
        if (fields.Count == 0)
        {
            return (bytes, "no length field found");
        }

        (int offset, int size, long length) = fields[random.Next(fields.Count)];
        // Values at protobuf's 2 GiB limit, also as measured from the field's own position (where a reader adding the
        // two may overflow a 32-bit count).
        long value = random.Next(10) switch
        {
            8 => int.MaxValue - (offset + size),
            9 => int.MaxValue - (offset + size) + 1,
            0 => int.MaxValue,
            1 => int.MaxValue - 1,
            2 => 1L << 31,
            3 => length + 1,
            4 => Math.Max(0, length - 1),
            5 => 0,
            6 => uint.MaxValue,
            _ => -1,
        };
        byte[] encoded = Varint(value);
        byte[] result = [.. bytes.AsSpan(0, offset), .. encoded, .. bytes.AsSpan(offset + size)];
        return (result, $"length field at {offset} ({length}) set to {value}");
    }

    private static void FindLengthFields(byte[] bytes, int start, int end, int depth, List<(int, int, long)> found)
    {
        int position = start;
        var local = new List<(int Offset, int Size, long Length, int Content)>();
        while (position < end)
        {
            if (!ReadVarint(bytes, ref position, end, out ulong tag) || tag >> 3 == 0)
            {
                return;
            }

            switch ((int)(tag & 7))
            {
                case 0:
                    if (!ReadVarint(bytes, ref position, end, out _))
                    {
                        return;
                    }

                    break;
                case 1:
                    position += 8;
                    break;
                case 5:
                    position += 4;
                    break;
                case 2:
                    int offset = position;
                    if (!ReadVarint(bytes, ref position, end, out ulong length) || length > (ulong)(end - position))
                    {
                        return;
                    }

                    local.Add((offset, position - offset, (long)length, position));
                    position += (int)length;
                    break;
                default:
                    return;
            }
        }

        if (position != end)
        {
            return;
        }

        foreach ((int offset, int size, long length, int content) in local)
        {
            found.Add((offset, size, length));
            if (depth < 12 && length > 1)
            {
                FindLengthFields(bytes, content, content + (int)length, depth + 1, found);
            }
        }
    }

    private static bool ReadVarint(byte[] bytes, ref int position, int end, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (position >= end)
            {
                return false;
            }

            byte b = bytes[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return true;
            }
        }

        return false;
    }

    private static byte[] Varint(long value)
    {
        var result = new List<byte>();
        ulong v = unchecked((ulong)value);
        do
        {
            byte b = (byte)(v & 0x7F);
            v >>= 7;
            result.Add(v != 0 ? (byte)(b | 0x80) : b);
        }
        while (v != 0);
        return [.. result];
    }
}

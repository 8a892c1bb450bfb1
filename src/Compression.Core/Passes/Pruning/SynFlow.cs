using System.Numerics.Tensors;
using Compression.Core.Ir;

namespace Compression.Core.Passes.Pruning;

/// <summary>
/// One linear layer of the chain SynFlow scores: its weight as <c>[outputs, channels · area]</c> (a Conv's kernel positions
/// are the area), where its input comes from and what it prunes.
/// </summary>
public sealed class SynFlowLayer
{
    /// <summary>Creates a layer of <paramref name="outputs"/> rows of <paramref name="channels"/> · <paramref name="area"/> weights.</summary>
    public SynFlowLayer(string name, float[] weights, int outputs, int channels, int area)
    {
        if (weights.Length != (long)outputs * channels * area)
        {
            throw new ArgumentException($"{weights.Length} weights do not fill [{outputs}, {channels} x {area}].");
        }

        Name = name;
        Weights = weights;
        Outputs = outputs;
        Channels = channels;
        Area = area;
        Mask = new bool[weights.Length];
    }

    /// <summary>The weight's name.</summary>
    public string Name { get; }

    /// <summary>The weights, <c>[outputs, channels · area]</c>.</summary>
    public float[] Weights { get; }

    /// <summary>Output features (channels).</summary>
    public int Outputs { get; }

    /// <summary>Input features (channels).</summary>
    public int Channels { get; }

    /// <summary>Weights per input channel and output (a Conv's kernel positions; 1 for MatMul and Gemm).</summary>
    public int Area { get; }

    /// <summary>The layer whose output feeds this one (index in the chain), or -1 when it reads the model's input (or an input
    /// that could not be followed: then all ones, as the first layer gets).</summary>
    public int Predecessor { get; set; } = -1;

    /// <summary>Input features per output feature of <see cref="Predecessor"/> (a Flatten of a Conv's channels makes each
    /// channel this many features), 1 otherwise.</summary>
    public int Expansion { get; set; } = 1;

    /// <summary>The fraction to remove, or NaN when the layer is only part of the chain (its weights are not pruned).</summary>
    public double Fraction { get; set; } = double.NaN;

    /// <summary>The removed weights, <c>[outputs, channels · area]</c>.</summary>
    public bool[] Mask { get; }

    internal double[] Forward { get; set; } = [];

    internal double[] Backward { get; set; } = [];
}

/// <summary>
/// SynFlow (Tanaka et al., 2020): data-free scores <c>|w ⊙ ∂R/∂w|</c> with <c>R = 1^T (∏ |W_l|) 1</c>, the network run on an
/// input of ones with every weight replaced by its magnitude (biases left out, activations linear on the positive values it
/// carries), pruned a little at a time over <see cref="DefaultRounds"/> rounds on an exponential schedule to the target
/// density, the scores computed again after each round. Convolutions are followed through their spatial sums: a channel's
/// value is the same at every position (an input of ones), a Conv maps it through the kernel sums of |W|, and the gradient
/// is carried as its total over the positions, so pooling keeps it and a Flatten spreads a channel over its features.
/// </summary>
public static class SynFlow
{
    /// <summary>The rounds of pruning and scoring, as the paper.</summary>
    public const int DefaultRounds = 100;

    /// <summary>
    /// Prunes the layers with a <see cref="SynFlowLayer.Fraction"/>: per layer (<paramref name="global"/> false) or with one
    /// threshold over the scores of all of them (layers of one fraction), filling each <see cref="SynFlowLayer.Mask"/> with
    /// <c>round(fraction · weights)</c> positions (over all of them when global).
    /// </summary>
    /// <param name="layers">The chain, in topological order (a predecessor before its successors).</param>
    /// <param name="global">One threshold over every pruned layer's scores.</param>
    /// <param name="rounds">Rounds of the schedule.</param>
    public static void Prune(IReadOnlyList<SynFlowLayer> layers, bool global, int rounds = DefaultRounds)
    {
        List<SynFlowLayer> pruned = layers.Where(l => !double.IsNaN(l.Fraction)).ToList();
        if (pruned.Count == 0)
        {
            return;
        }

        for (int round = 1; round <= rounds; round++)
        {
            Dictionary<SynFlowLayer, double[]> scores = Scores(layers);
            if (global)
            {
                foreach (IGrouping<double, SynFlowLayer> group in pruned.GroupBy(l => l.Fraction))
                {
                    long total = group.Sum(l => (long)l.Weights.Length);
                    var all = new double[total];
                    var mask = new bool[total];
                    long offset = 0;
                    foreach (SynFlowLayer layer in group)
                    {
                        scores[layer].CopyTo(all, offset);
                        layer.Mask.CopyTo(mask, offset);
                        offset += layer.Weights.Length;
                    }

                    WeightSelection.Smallest(all, mask, Scheduled(group.Key, round, rounds, total));
                    offset = 0;
                    foreach (SynFlowLayer layer in group)
                    {
                        Array.Copy(mask, offset, layer.Mask, 0, layer.Weights.Length);
                        offset += layer.Weights.Length;
                    }
                }
            }
            else
            {
                foreach (SynFlowLayer layer in pruned)
                {
                    WeightSelection.Smallest(scores[layer], layer.Mask, Scheduled(layer.Fraction, round, rounds, layer.Weights.Length));
                }
            }
        }
    }

    /// <summary>Weights removed after <paramref name="round"/> of <paramref name="rounds"/>: density (1 - fraction)^(round / rounds).</summary>
    private static long Scheduled(double fraction, int round, int rounds, long count) => round == rounds
        ? WeightSelection.Removed(fraction, count)
        : Math.Min(WeightSelection.Removed(fraction, count), WeightSelection.Removed(1 - Math.Pow(1 - fraction, (double)round / rounds), count));

    /// <summary>The synaptic-flow score of every weight of every layer, the removed ones counting as zero.</summary>
    internal static Dictionary<SynFlowLayer, double[]> Scores(IReadOnlyList<SynFlowLayer> layers)
    {
        // Each layer's magnitudes with the removed weights at zero, and their sums over the kernel positions ([outputs, channels]).
        var magnitudes = new double[layers.Count][];
        var kernels = new double[layers.Count][];
        for (int l = 0; l < layers.Count; l++)
        {
            SynFlowLayer layer = layers[l];
            var magnitude = new double[layer.Weights.Length];
            for (int i = 0; i < magnitude.Length; i++)
            {
                magnitude[i] = layer.Mask[i] ? 0 : Math.Abs(layer.Weights[i]);
            }

            magnitudes[l] = magnitude;
            if (layer.Area == 1)
            {
                kernels[l] = magnitude;
                continue;
            }

            var kernel = new double[layer.Outputs * layer.Channels];
            for (int i = 0; i < kernel.Length; i++)
            {
                kernel[i] = TensorPrimitives.Sum(magnitude.AsSpan(i * layer.Area, layer.Area));
            }

            kernels[l] = kernel;
        }

        // Forward: each layer's input value per channel (ones at the model's input).
        var successors = new List<int>[layers.Count];
        for (int l = 0; l < layers.Count; l++)
        {
            successors[l] = [];
        }

        var outputs = new double[layers.Count][];
        for (int l = 0; l < layers.Count; l++)
        {
            SynFlowLayer layer = layers[l];
            var input = new double[layer.Channels];
            if (layer.Predecessor < 0)
            {
                Array.Fill(input, 1.0);
            }
            else
            {
                double[] before = outputs[layer.Predecessor];
                for (int c = 0; c < input.Length; c++)
                {
                    input[c] = before[c / layer.Expansion];
                }

                successors[layer.Predecessor].Add(l);
            }

            layer.Forward = input;
            // out[o] = Σ_c kernel[o, c] · in[c].
            var output = new double[layer.Outputs];
            for (int o = 0; o < output.Length; o++)
            {
                output[o] = TensorPrimitives.Dot(kernels[l].AsSpan(o * layer.Channels, layer.Channels), input);
            }

            outputs[l] = output;
        }

        // Backward: the total gradient at each layer's output (ones where nothing follows); at its input, Σ_o kernel[o, c] · g[o].
        var inputGradients = new double[layers.Count][];
        for (int l = layers.Count - 1; l >= 0; l--)
        {
            SynFlowLayer layer = layers[l];
            var gradient = new double[layer.Outputs];
            if (successors[l].Count == 0)
            {
                Array.Fill(gradient, 1.0);
            }

            foreach (int next in successors[l])
            {
                double[] atInput = inputGradients[next];
                int expansion = layers[next].Expansion;
                for (int c = 0; c < atInput.Length; c++)
                {
                    gradient[c / expansion] += atInput[c];
                }
            }

            layer.Backward = gradient;
            var atOwnInput = new double[layer.Channels];
            for (int o = 0; o < layer.Outputs; o++)
            {
                TensorPrimitives.MultiplyAdd(kernels[l].AsSpan(o * layer.Channels, layer.Channels), gradient[o], atOwnInput, atOwnInput);
            }

            inputGradients[l] = atOwnInput;
        }

        var scores = new Dictionary<SynFlowLayer, double[]>(ReferenceEqualityComparer.Instance);
        for (int l = 0; l < layers.Count; l++)
        {
            SynFlowLayer layer = layers[l];
            double[] score = magnitudes[l];
            int row = layer.Channels * layer.Area;
            for (int o = 0; o < layer.Outputs; o++)
            {
                Span<double> scoreRow = score.AsSpan(o * row, row);
                if (layer.Area == 1)
                {
                    TensorPrimitives.Multiply(scoreRow, layer.Forward, scoreRow);
                    TensorPrimitives.Multiply(scoreRow, layer.Backward[o], scoreRow);
                    continue;
                }

                for (int c = 0; c < layer.Channels; c++)
                {
                    Span<double> kernel = scoreRow.Slice(c * layer.Area, layer.Area);
                    TensorPrimitives.Multiply(kernel, layer.Forward[c] * layer.Backward[o], kernel);
                }
            }

            scores[layer] = score;
        }

        return scores;
    }

    /// <summary>
    /// The op types SynFlow follows from a layer's output to the next layer's input: element-wise activations, a bias or
    /// scale by a constant, normalization, pooling and reshaping (the chain's values stay per channel through them).
    /// </summary>
    internal static bool PassesThrough(Node node) => node.IsDefaultDomain && node.OpType is "Relu" or "LeakyRelu" or "Sigmoid" or "Tanh"
        or "Elu" or "Selu" or "Gelu" or "Softplus" or "HardSigmoid" or "HardSwish" or "Clip" or "Identity" or "Dropout"
        or "BatchNormalization" or "MaxPool" or "AveragePool" or "GlobalAveragePool" or "GlobalMaxPool" or "LpPool" or "Flatten"
        or "Reshape" or "Squeeze" or "Unsqueeze" or "LRN" or "Add" or "Sub" or "Mul" or "Div";

    /// <summary>
    /// The layer whose output <paramref name="value"/> comes from, following <see cref="PassesThrough"/> nodes (an Add, Sub,
    /// Mul or Div only with a constant other operand): the layer's node, null for a model input, or false when the path
    /// cannot be followed.
    /// </summary>
    internal static bool TraceBack(Value value, IReadOnlyDictionary<Node, int> layers, out int predecessor)
    {
        predecessor = -1;
        for (int depth = 0; depth < 64; depth++)
        {
            if (value.IsGraphInput && value.Producer is null)
            {
                return true;
            }

            Node? producer = value.Producer;
            if (producer is null)
            {
                return false;
            }

            if (layers.TryGetValue(producer, out int index))
            {
                predecessor = index;
                return true;
            }

            if (!PassesThrough(producer) || producer.Inputs.Count == 0 || producer.Inputs[0] is not { } data)
            {
                return false;
            }

            if (producer.OpType is "Add" or "Sub" or "Mul" or "Div")
            {
                // One operand computed, the other a constant (a bias or a scale).
                Value? other = producer.Inputs.Count > 1 ? producer.Inputs[1] : null;
                if (other is not null && !other.IsInitializer && data.IsInitializer)
                {
                    (data, other) = (other, data);
                }

                if (other is null || !other.IsInitializer || data.IsInitializer)
                {
                    return false;
                }
            }

            value = data;
        }

        return false;
    }
}

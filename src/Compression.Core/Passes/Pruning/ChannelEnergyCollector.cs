using System.Numerics.Tensors;
using Compression.Core.Evaluation;
using Compression.Core.Runtime;

namespace Compression.Core.Passes.Pruning;

/// <summary>The sum of squares of each channel of a value along its channel axis (axis 1, or the last), over the calibration samples.</summary>
internal sealed class ChannelEnergyCollector(string valueName, int axis, int channels) : IActivationCollector
{
    /// <inheritdoc />
    public string ValueName { get; } = valueName;

    /// <summary>Each channel's sum of squares.</summary>
    public double[] SumOfSquares { get; } = new double[channels];

    /// <inheritdoc />
    public void Add(OnnxTensor value)
    {
        ReadOnlySpan<float> values = ActivationRecorder.Floats(value, ValueName);
        ReadOnlySpan<long> shape = value.Shape;
        int at = axis < 0 ? shape.Length - 1 : axis;
        if (at >= shape.Length || shape[at] != channels)
        {
            throw new InvalidOperationException($"The value '{ValueName}' does not have {channels} channels on axis {at}.");
        }

        long outer = 1, inner = 1;
        for (int i = 0; i < at; i++)
        {
            outer *= shape[i];
        }

        for (int i = at + 1; i < shape.Length; i++)
        {
            inner *= shape[i];
        }

        for (long o = 0; o < outer; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                ReadOnlySpan<float> run = values.Slice((int)(((o * channels) + c) * inner), (int)inner);
                SumOfSquares[c] += TensorPrimitives.Dot(run, run);
            }
        }
    }
}

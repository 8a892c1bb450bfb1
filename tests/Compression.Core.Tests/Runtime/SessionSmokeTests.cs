using Compression.Core.Runtime;

namespace Compression.Core.Tests.Runtime;

public class SessionSmokeTests
{
    [Fact]
    public void Digits_model_reports_its_signature_and_runs()
    {
        using var session = new OnnxSession(RepositoryPaths.DigitsModel);

        Assert.Equal("pixels", Assert.Single(session.Inputs).Name);
        Assert.Equal(TensorElementType.Float, session.Inputs[0].ElementType);
        Assert.Equal("[batch, 64]", session.Inputs[0].ShapeText);
        Assert.Equal(["logits", "probabilities"], session.Outputs.Select(o => o.Name));

        var pixels = new float[2 * 64];
        OnnxTensor[] outputs = session.Run(["pixels"], [OnnxTensor.FromArray(pixels, 2, 64)], ["probabilities"]);

        OnnxTensor<float> probabilities = outputs[0].As<float>();
        Assert.Equal([2L, 10L], probabilities.Shape.ToArray());
        Assert.Equal(1.0, probabilities.Span[..10].ToArray().Sum(), 4);
    }
}

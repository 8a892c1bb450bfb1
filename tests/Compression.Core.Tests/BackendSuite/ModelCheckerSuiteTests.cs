using Compression.Onnx;
using Compression.Onnx.Protos;

namespace Compression.Core.Tests.BackendSuite;

/// <summary>The checks at load accept every model of the ONNX backend suite: valid models are never refused as invalid.</summary>
public sealed class ModelCheckerSuiteTests
{
    [Fact]
    public void Every_model_of_the_backend_suite_passes_the_checks_at_load()
    {
        var refused = new List<string>();
        int checkedModels = 0;
        foreach (string path in Directory.GetFiles(AssemblyMetadata.OnnxTestDataDir, "model.onnx", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            ModelProto model = OnnxModelFile.Load(path, loadExternalData: false);
            try
            {
                ModelChecker.Check(model, path);
                checkedModels++;
            }
            catch (CompressionException e)
            {
                refused.Add(e.Message);
            }
        }

        Assert.True(refused.Count == 0, $"{refused.Count} valid models refused:\n{string.Join("\n", refused)}");
        Assert.True(checkedModels > 1000, $"{checkedModels} models");
    }
}

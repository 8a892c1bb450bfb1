using Compression.Onnx;
using Compression.Onnx.Protos;

namespace Compression.Core.Tests.Support;

/// <summary>A one-operator backend node test (libonnx-testdata) with its weight, input 1, made an initializer as an exporter would.</summary>
internal static class NodeTestModel
{
    /// <summary>The test's model with input 1 moved from the graph inputs to the initializers, the suite's values in it.</summary>
    public static (ModelProto Model, TensorProto Weight, string DataDir) WithWeightAsInitializer(string name)
    {
        string testDir = Path.Combine(AssemblyMetadata.OnnxTestDataDir, "node", name);
        string dataDir = Path.Combine(testDir, "test_data_set_0");
        ModelProto model = OnnxModelFile.Load(Path.Combine(testDir, "model.onnx"));
        NodeProto node = Assert.Single(model.Graph.Node);
        TensorProto weight = OnnxDataFile.LoadTensor(Path.Combine(dataDir, "input_1.pb"));
        weight.Name = node.Input[1];
        model.Graph.Input.RemoveAt(1);
        model.Graph.Initializer.Add(weight);
        return (model, weight, dataDir);
    }
}

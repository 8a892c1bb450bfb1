using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Samples.Digits;

// The build compressed Models/digits.onnx into the output folder and generated DigitClassifier for it.
// The original model is copied beside it (Models/original/digits.onnx) so that both can be compared.
string outputFolder = AppContext.BaseDirectory;
string compressedPath = Path.Combine(outputFolder, DigitClassifier.ModelPath);
string originalPath = Path.Combine(outputFolder, "Models", "original", "digits.onnx");
DigitsTestSet testSet = DigitsTestSet.Load(Path.Combine(outputFolder, "Data", "digits-test.csv"));

using var compressed = new DigitClassifier();
using var plainOptions = new SessionOptions();
using var original = new DigitClassifier(originalPath, plainOptions);

double compressedAccuracy = Accuracy(compressed, testSet);
double originalAccuracy = Accuracy(original, testSet);

Console.WriteLine($"UCI digits, {testSet.Count} held-out images, ONNX Runtime {OrtEnv.Instance().GetVersionString()}");
Console.WriteLine();
Console.WriteLine($"{"model",-12} {"size (bytes)",14} {"accuracy",10}");
Console.WriteLine($"{"original",-12} {new FileInfo(originalPath).Length,14:N0} {originalAccuracy,10:P2}");
Console.WriteLine($"{"compressed",-12} {new FileInfo(compressedPath).Length,14:N0} {compressedAccuracy,10:P2}");
Console.WriteLine();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"The compressed model is {(double)new FileInfo(compressedPath).Length / new FileInfo(originalPath).Length:0.00}x the size of the original."));

// Classifies every test image in one batch: pixels [batch, 64] -> logits [batch, 10].
static double Accuracy(DigitClassifier model, DigitsTestSet testSet)
{
    using DigitClassifier.Outputs outputs = model.Run(testSet.Pixels);
    ReadOnlySpan<float> logits = outputs.Logits.GetTensorDataAsSpan<float>();
    int correct = 0;
    for (int image = 0; image < testSet.Count; image++)
    {
        ReadOnlySpan<float> scores = logits.Slice(image * 10, 10);
        int predicted = 0;
        for (int digit = 1; digit < 10; digit++)
        {
            if (scores[digit] > scores[predicted])
            {
                predicted = digit;
            }
        }

        correct += predicted == testSet.Labels[image] ? 1 : 0;
    }

    return (double)correct / testSet.Count;
}

using System.Numerics.Tensors;

namespace Compression.Core.Passes.Distillation;

/// <summary>
/// What least squares needs of one layer's input over the calibration samples, the compressed model's (the student,
/// <c>X_s</c>, <see cref="StudentFeatures"/> columns) paired row by row with the original's (the teacher, <c>X_t</c>,
/// <see cref="TeacherFeatures"/> columns): a row is one position the layer's weight meets (a MatMul input's every index but
/// the last; a Conv's every output pixel of every sample, its features the patch it sees). Every matrix is row-major and
/// summed in double over every row of every batch, so that its size does not grow with the samples.
/// </summary>
public sealed class LayerStatistics
{
    internal LayerStatistics(string nodeName, string valueName, int studentFeatures, int teacherFeatures, bool withTeacherGram)
    {
        NodeName = nodeName;
        ValueName = valueName;
        StudentFeatures = studentFeatures;
        TeacherFeatures = teacherFeatures;
        StudentGramMatrix = new double[(long)studentFeatures * studentFeatures];
        CrossMatrix = new double[(long)studentFeatures * teacherFeatures];
        StudentSumVector = new double[studentFeatures];
        TeacherSumVector = new double[teacherFeatures];
        TeacherGramMatrix = withTeacherGram ? new double[(long)teacherFeatures * teacherFeatures] : null;
    }

    /// <summary>The node whose input this is (its name, possibly empty).</summary>
    public string NodeName { get; }

    /// <summary>The value recorded: the node's data input, the same name in both models.</summary>
    public string ValueName { get; }

    /// <summary><c>K_s</c>: the student's features per row (for Conv, input channels times kernel size).</summary>
    public int StudentFeatures { get; }

    /// <summary><c>K_t</c>: the teacher's features per row; more than <see cref="StudentFeatures"/> where channels were pruned.</summary>
    public int TeacherFeatures { get; }

    /// <summary>The rows seen over every batch.</summary>
    public long Rows { get; internal set; }

    /// <summary>The student's Gram matrix <c>X_s^T X_s</c>, <c>[K_s, K_s]</c>.</summary>
    public ReadOnlySpan<double> StudentGram => StudentGramMatrix;

    /// <summary>The cross term <c>X_s^T X_t</c>, <c>[K_s, K_t]</c>.</summary>
    public ReadOnlySpan<double> Cross => CrossMatrix;

    /// <summary>The column sums of <c>X_s</c> (<c>X_s^T 1</c>), <c>[K_s]</c>: with <see cref="Rows"/>, what a bias needs.</summary>
    public ReadOnlySpan<double> StudentSum => StudentSumVector;

    /// <summary>The column sums of <c>X_t</c>, <c>[K_t]</c>.</summary>
    public ReadOnlySpan<double> TeacherSum => TeacherSumVector;

    /// <summary>Each student feature's sum of squares (the Gram's diagonal), <c>[K_s]</c>: Wanda's input norms squared.</summary>
    public double[] StudentSumOfSquares()
    {
        var result = new double[StudentFeatures];
        for (int i = 0; i < StudentFeatures; i++)
        {
            result[i] = StudentGramMatrix[((long)i * StudentFeatures) + i];
        }

        return result;
    }

    /// <summary>True when the teacher's Gram was recorded (asked for at recording).</summary>
    public bool HasTeacherGram => TeacherGramMatrix is not null;

    /// <summary>The teacher's Gram <c>X_t^T X_t</c>, <c>[K_t, K_t]</c>, when asked for at recording; empty otherwise.</summary>
    public ReadOnlySpan<double> TeacherGram => TeacherGramMatrix;

    internal double[] StudentGramMatrix { get; }

    internal double[] CrossMatrix { get; }

    internal double[] StudentSumVector { get; }

    internal double[] TeacherSumVector { get; }

    internal double[]? TeacherGramMatrix { get; }

    /// <summary>Adds a chunk of paired rows: <paramref name="student"/> <c>[rows, K_s]</c> and <paramref name="teacher"/> <c>[rows, K_t]</c>.</summary>
    internal void Add(double[] student, double[] teacher, int rows)
    {
        int ks = StudentFeatures, kt = TeacherFeatures;
        Rows += rows;
        for (int r = 0; r < rows; r++)
        {
            TensorPrimitives.Add(StudentSumVector, student.AsSpan(r * ks, ks), StudentSumVector);
            TensorPrimitives.Add(TeacherSumVector, teacher.AsSpan(r * kt, kt), TeacherSumVector);
        }

        // Column i of the chunk (feature i over its rows), contiguous, so that row i of each product reads it in order.
        double[] studentT = DenseAlgebra.Transpose(student, rows, ks);
        AddProduct(StudentGramMatrix, studentT, student, ks, ks, rows, upperOnly: true);
        AddProduct(CrossMatrix, studentT, teacher, ks, kt, rows, upperOnly: false);
        if (TeacherGramMatrix is not null)
        {
            AddProduct(TeacherGramMatrix, DenseAlgebra.Transpose(teacher, rows, kt), teacher, kt, kt, rows, upperOnly: true);
        }
    }

    /// <summary>Copies the upper triangles of the symmetric Grams to their lower triangles, once every row is in.</summary>
    internal void Complete()
    {
        Mirror(StudentGramMatrix, StudentFeatures);
        if (TeacherGramMatrix is not null)
        {
            Mirror(TeacherGramMatrix, TeacherFeatures);
        }
    }

    /// <summary><c>target[i, j] += sum_r left[i, r] right[r, j]</c>, with <c>j &gt;= i</c> only when <paramref name="upperOnly"/>.</summary>
    private static void AddProduct(double[] target, double[] leftT, double[] right, int rowsOut, int columns, int depth, bool upperOnly)
    {
        void Row(int i)
        {
            int first = upperOnly ? i : 0;
            Span<double> row = target.AsSpan((i * columns) + first, columns - first);
            for (int r = 0; r < depth; r++)
            {
                double factor = leftT[((long)i * depth) + r];
                if (factor != 0)
                {
                    TensorPrimitives.MultiplyAdd(right.AsSpan((r * columns) + first, columns - first), factor, row, row);
                }
            }
        }

        if ((long)rowsOut * columns * depth > 1 << 18)
        {
            Parallel.For(0, rowsOut, Row);
        }
        else
        {
            for (int i = 0; i < rowsOut; i++)
            {
                Row(i);
            }
        }
    }

    private static void Mirror(double[] matrix, int k)
    {
        for (int i = 0; i < k; i++)
        {
            for (int j = i + 1; j < k; j++)
            {
                matrix[((long)j * k) + i] = matrix[((long)i * k) + j];
            }
        }
    }
}

using System.Text;

namespace Compression.Build.Generator;

/// <summary>Writes C# source line by line with four-space indentation and LF line ends.</summary>
internal sealed class SourceWriter
{
    private readonly StringBuilder text = new();
    private int indentation;

    /// <summary>Writes <paramref name="line"/> at the current indentation (an empty line stays empty).</summary>
    public void WriteLine(string line)
    {
        if (line.Length > 0)
        {
            text.Append(' ', indentation * 4).Append(line);
        }

        text.Append('\n');
    }

    /// <summary>Writes an empty line.</summary>
    public void WriteLine() => text.Append('\n');

    /// <summary>Writes <c>{</c> and indents what follows.</summary>
    public void OpenBlock()
    {
        WriteLine("{");
        indentation++;
    }

    /// <summary>Ends the indentation of <see cref="OpenBlock"/> and writes <c>}</c>, dropping an empty line just before it.</summary>
    public void CloseBlock()
    {
        indentation--;
        if (text.Length >= 2 && text[text.Length - 1] == '\n' && text[text.Length - 2] == '\n')
        {
            text.Length--;
        }

        WriteLine("}");
    }

    /// <summary>Indents what follows by one more level.</summary>
    public void Indent() => indentation++;

    /// <summary>Ends one level of <see cref="Indent"/>.</summary>
    public void Unindent() => indentation--;

    /// <summary>Writes each line of <paramref name="xml"/> as a <c>///</c> documentation comment line.</summary>
    public void WriteDocumentation(string xml)
    {
        foreach (string line in xml.Split('\n'))
        {
            WriteLine(line.Length == 0 ? "///" : "/// " + line);
        }
    }

    /// <inheritdoc />
    public override string ToString() => text.ToString();
}

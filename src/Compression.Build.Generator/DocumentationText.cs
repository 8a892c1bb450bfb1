using System.Text;

namespace Compression.Build.Generator;

/// <summary>Makes arbitrary text safe inside XML documentation comments.</summary>
internal static class DocumentationText
{
    /// <summary>
    /// Escapes <c>&amp;</c>, <c>&lt;</c> and <c>&gt;</c>, turns line breaks (which would end the comment) into
    /// spaces, and replaces characters XML does not allow with U+FFFD.
    /// </summary>
    public static string Escape(string text)
    {
        var result = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            switch (c)
            {
                case '&': result.Append("&amp;"); break;
                case '<': result.Append("&lt;"); break;
                case '>': result.Append("&gt;"); break;
                case '\r':
                case '\n':
                case '\u0085':
                case '\u2028':
                case '\u2029':
                    result.Append(' ');
                    break;
                default:
                    if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                    {
                        result.Append(c).Append(text[++i]);
                    }
                    else if ((c < ' ' && c != '\t') || char.IsSurrogate(c) || c == '\uFFFE' || c == '\uFFFF')
                    {
                        result.Append('\uFFFD');
                    }
                    else
                    {
                        result.Append(c);
                    }

                    break;
            }
        }

        return result.ToString();
    }

    /// <summary>Escapes each line of <paramref name="text"/> and joins them with LF, dropping trailing white space.</summary>
    public static string EscapeLines(string text)
    {
        string normalized = text.Replace("\r\n", "\n").Replace('\r', '\n').Replace('\u0085', '\n').Replace('\u2028', '\n').Replace('\u2029', '\n');
        string[] lines = normalized.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            lines[i] = Escape(lines[i]).TrimEnd();
        }

        return string.Join("\n", lines).Trim('\n');
    }
}

// Draws the packages' icon, build/icon/icon.png (128 x 128, RGBA): two chevrons pressing a stack of weight rows
// together on a blue rounded square. Run from the repository root with `dotnet run build/icon/make-icon.cs`; the same
// drawing gives the same pixels. NuGet shows the icon beside Compression.Build and Compression.Cli.
using System.Buffers.Binary;
using System.IO.Compression;

const int Size = 128;
const int Samples = 4; // per axis and pixel, for smooth edges

var background = (R: 0x1F, G: 0x4E, B: 0x8C);
var rows = (R: 0xFF, G: 0xFF, B: 0xFF);
var chevrons = (R: 0xF5, G: 0xA6, B: 0x23);

var pixels = new byte[Size * Size * 4];
for (int y = 0; y < Size; y++)
{
    for (int x = 0; x < Size; x++)
    {
        double r = 0, g = 0, b = 0, a = 0;
        for (int sy = 0; sy < Samples; sy++)
        {
            for (int sx = 0; sx < Samples; sx++)
            {
                double px = x + ((sx + 0.5) / Samples);
                double py = y + ((sy + 0.5) / Samples);
                if (!InRoundedRect(px, py, 0, 0, Size, Size, 22))
                {
                    continue;
                }

                var color = background;
                if (InWeightRows(px, py))
                {
                    color = rows;
                }
                else if (InChevron(px, py, pointsRight: true) || InChevron(px, py, pointsRight: false))
                {
                    color = chevrons;
                }

                r += color.R;
                g += color.G;
                b += color.B;
                a += 255;
            }
        }

        int n = Samples * Samples;
        int at = ((y * Size) + x) * 4;
        // Straight (not premultiplied) alpha: the color of the covered samples, and the coverage.
        pixels[at] = a == 0 ? (byte)0 : (byte)Math.Round(r * 255 / a);
        pixels[at + 1] = a == 0 ? (byte)0 : (byte)Math.Round(g * 255 / a);
        pixels[at + 2] = a == 0 ? (byte)0 : (byte)Math.Round(b * 255 / a);
        pixels[at + 3] = (byte)Math.Round(a / n);
    }
}

string output = Path.GetFullPath("build/icon/icon.png");

File.WriteAllBytes(output, Png(pixels));
Console.WriteLine($"{output}: {new FileInfo(output).Length} bytes");

// Four rows of weights, the lower ones shorter: a tensor getting smaller.
static bool InWeightRows(double x, double y)
{
    double[] halfWidths = [26, 22, 18, 14];
    for (int i = 0; i < halfWidths.Length; i++)
    {
        double top = 35 + (i * 16);
        if (InRoundedRect(x, y, 64 - halfWidths[i], top, 64 + halfWidths[i], top + 10, 4))
        {
            return true;
        }
    }

    return false;
}

// A chevron on each side, pointing at the rows.
static bool InChevron(double x, double y, bool pointsRight)
{
    double local = pointsRight ? x - 14 : 114 - x; // distance from the outer edge, inward
    double dy = Math.Abs(y - 64);
    // Between two parallel V lines: the tip at local 20 on the centre line, arms slope 1.
    double inner = local + dy;
    return inner >= 8 && inner <= 20 && dy <= 17;
}

static bool InRoundedRect(double x, double y, double left, double top, double right, double bottom, double radius)
{
    if (x < left || x > right || y < top || y > bottom)
    {
        return false;
    }

    double cx = Math.Clamp(x, left + radius, right - radius);
    double cy = Math.Clamp(y, top + radius, bottom - radius);
    return ((x - cx) * (x - cx)) + ((y - cy) * (y - cy)) <= radius * radius;
}

static byte[] Png(byte[] rgba)
{
    using var png = new MemoryStream();
    png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
    var header = new byte[13];
    BinaryPrimitives.WriteInt32BigEndian(header, Size);
    BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), Size);
    header[8] = 8; // bits per channel
    header[9] = 6; // RGBA
    Chunk(png, "IHDR", header);
    using (var raw = new MemoryStream())
    {
        using (var zlib = new ZLibStream(raw, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            for (int y = 0; y < Size; y++)
            {
                zlib.WriteByte(0); // no filter
                zlib.Write(rgba, y * Size * 4, Size * 4);
            }
        }

        Chunk(png, "IDAT", raw.ToArray());
    }

    Chunk(png, "IEND", []);
    return png.ToArray();
}

static void Chunk(Stream png, string type, byte[] data)
{
    var length = new byte[4];
    BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
    png.Write(length);
    byte[] typeAndData = [.. System.Text.Encoding.ASCII.GetBytes(type), .. data];
    png.Write(typeAndData);
    var crc = new byte[4];
    BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typeAndData));
    png.Write(crc);
}

static uint Crc32(byte[] bytes)
{
    uint crc = 0xFFFFFFFF;
    foreach (byte value in bytes)
    {
        crc ^= value;
        for (int bit = 0; bit < 8; bit++)
        {
            crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
    }

    return ~crc;
}

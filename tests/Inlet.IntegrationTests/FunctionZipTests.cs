using System.IO.Compression;
using System.Net;
using System.Text;

namespace Inlet.IntegrationTests;

/// <summary>Function zips Lambda would refuse: too large packed or unpacked, entries outside the folder, symbolic links.</summary>
public sealed class FunctionZipTests
{
    private static byte[] Zip(Action<ZipArchive> fill)
    {
        using var buffer = new MemoryStream();
        using (var archive = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            fill(archive);
        }

        return buffer.ToArray();
    }

    private static void Add(ZipArchive archive, string name, string text, int? unixMode = null)
    {
        var entry = archive.CreateEntry(name);
        if (unixMode is { } mode)
        {
            entry.ExternalAttributes = mode << 16;
        }

        using var stream = entry.Open();
        stream.Write(Encoding.UTF8.GetBytes(text));
    }

    private static async Task<(HttpStatusCode Status, string ErrorType, string Body)> CreateAsync(TestServer server, string name, byte[] zip)
    {
        // Written by hand: JsonSerializer would escape every '+' of the base64 as \u002B, as no AWS SDK does.
        var request = $$$"""{"FunctionName":"{{{name}}}","Runtime":"nodejs20.x","Handler":"index.handler","Role":"arn:aws:iam::000000000000:role/r","Code":{"ZipFile":"{{{Convert.ToBase64String(zip)}}}"}}""";
        using var response = await server.Http.PostAsync("/2015-03-31/functions", new StringContent(request, Encoding.UTF8, "application/json"));
        return (response.StatusCode, response.Headers.TryGetValues("x-amzn-ErrorType", out var type) ? type.First() : string.Empty, await response.Content.ReadAsStringAsync());
    }

    private static void AssertNothingLeft(TestServer server, string name)
    {
        var folder = Path.Combine(server.Directory, "functions", name);
        Assert.True(!Directory.Exists(folder) || Directory.GetFileSystemEntries(folder).Length == 0, string.Join(", ", Directory.Exists(folder) ? Directory.GetFileSystemEntries(folder) : []));
    }

    [Fact]
    public async Task ZipBomb_IsRefusedWhileUnpacking_AndLeavesNothing()
    {
        await using var server = await TestServer.StartAsync("");
        var bomb = Zip(archive =>
        {
            var entry = archive.CreateEntry("index.js", CompressionLevel.SmallestSize);
            using var stream = entry.Open();
            var zeros = new byte[1024 * 1024];
            for (var i = 0; i < 300; i++)
            {
                stream.Write(zeros);
            }
        });
        Assert.True(bomb.Length < 2 * 1024 * 1024);
        var (status, type, body) = await CreateAsync(server, "bomb", bomb);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidParameterValueException", type);
        Assert.Contains("Unzipped size must be smaller than 262144000 bytes", body);
        AssertNothingLeft(server, "bomb");
    }

    [Fact]
    public async Task EntriesOutsideTheFolderOrSymlinks_Are400_AndLeaveNothing()
    {
        await using var server = await TestServer.StartAsync("");
        var cases = new Dictionary<string, byte[]>
        {
            ["slip"] = Zip(a => { Add(a, "index.js", "exports.handler = async () => 1;"); Add(a, "../../escaped.js", "x"); }),
            ["nested-slip"] = Zip(a => Add(a, "lib/../../escaped.js", "x")),
            ["absolute"] = Zip(a => Add(a, "/tmp/inlet-escaped.js", "x")),
            ["symlink"] = Zip(a => { Add(a, "index.js", "exports.handler = async () => 1;"); Add(a, "secrets", "/etc/shadow", unixMode: 0xA1FF); }),
        };
        foreach (var (name, zip) in cases)
        {
            var (status, type, body) = await CreateAsync(server, name, zip);
            Assert.True(status == HttpStatusCode.BadRequest && type == "InvalidParameterValueException", $"{name}: {status} {type} {body}");
            AssertNothingLeft(server, name);
        }

        Assert.False(File.Exists(Path.Combine(server.Directory, "escaped.js")));
        Assert.False(File.Exists(Path.Combine(server.Directory, "functions", "escaped.js")));
        Assert.False(File.Exists("/tmp/inlet-escaped.js"));
    }

    [Fact]
    public async Task UpdateFunctionCode_WithASlippingZip_Is400_AndKeepsTheCodeItHad()
    {
        await using var server = await TestServer.StartAsync("");
        var good = Zip(a => Add(a, "index.js", "exports.handler = async () => 1;"));
        Assert.Equal(HttpStatusCode.Created, (await CreateAsync(server, "fn", good)).Status);
        var before = Directory.GetFileSystemEntries(Path.Combine(server.Directory, "functions", "fn"));

        var slip = Convert.ToBase64String(Zip(a => Add(a, "../../escaped.js", "x")));
        using var response = await server.Http.PutAsync("/2015-03-31/functions/fn/code", new StringContent($$"""{"ZipFile":"{{slip}}"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("InvalidParameterValueException", response.Headers.GetValues("x-amzn-ErrorType").First());
        Assert.Equal(before, Directory.GetFileSystemEntries(Path.Combine(server.Directory, "functions", "fn")));
    }

    [Fact]
    public async Task ZipOver50MB_IsRequestEntityTooLarge()
    {
        await using var server = await TestServer.StartAsync("");
        var noise = new byte[52_428_800 + 1];
        new Random(7).NextBytes(noise);
        var zip = Zip(a =>
        {
            using var stream = a.CreateEntry("blob.bin", CompressionLevel.NoCompression).Open();
            stream.Write(noise);
        });
        var (status, type, _) = await CreateAsync(server, "large", zip);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("RequestEntityTooLargeException", type);
        AssertNothingLeft(server, "large");
    }
}

using System.Collections.Concurrent;
using System.Net;
using Inlet.Authentication;
using YamlDotNet.RepresentationModel;

namespace Inlet.IntegrationTests;

/// <summary>
/// The openspf RFC 7208 test suite (tests/fixtures/spf/rfc7208-tests.yml), every case on its own: each section's zone
/// is served by a real DNS server on loopback, and Inlet's SPF evaluator, querying it through its DnsClient resolver,
/// must give one of the results the case allows (and the case's explanation, where it names one).
/// </summary>
public sealed class SpfSuiteTests(SpfSuiteTests.ZoneServers servers) : IClassFixture<SpfSuiteTests.ZoneServers>
{
    private static readonly Lazy<IReadOnlyList<Section>> s_sections = new(Load);

    public static TheoryData<string, string> Cases
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var section in s_sections.Value)
            {
                foreach (var name in section.Cases.Keys)
                {
                    data.Add(section.Description, name);
                }
            }

            return data;
        }
    }

    [Fact]
    public void Suite_Loaded_Has16SectionsAnd198Cases()
    {
        Assert.Equal(16, s_sections.Value.Count);
        Assert.Equal(198, s_sections.Value.Sum(s => s.Cases.Count));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task CheckHost_SuiteCase_GivesAnAllowedResult(string section, string name)
    {
        var data = s_sections.Value.Single(s => s.Description == section);
        var testCase = data.Cases[name];
        var server = await servers.ForAsync(data);
        var resolver = new DnsResolver([server.EndPoint], TimeSpan.FromSeconds(1), retries: 1);
        var evaluator = new SpfEvaluator(resolver);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var outcome = await evaluator.CheckAsync(IPAddress.Parse(testCase.Host), testCase.MailFrom, testCase.Helo, timeout.Token);

        var got = outcome.Result.ToString().ToLowerInvariant();
        Assert.True(testCase.Results.Contains(got), $"{section} / {name}: expected {string.Join(" or ", testCase.Results)}, got {got} ({outcome.Reason})");
        if (testCase.Explanation is { } explanation && outcome.Result == SpfResult.Fail)
        {
            // "DEFAULT" is the suite driver's stand-in for "no exp= explanation". The driver writes %{i}'s IPv6 nibbles
            // in upper case where RFC 7208 §7.4's own example writes them in lower case; DNS names ignore case.
            Assert.Equal(explanation == "DEFAULT" ? null : explanation, outcome.Explanation, ignoreCase: true);
        }
    }

    internal sealed record Case(string Helo, string Host, string MailFrom, IReadOnlyList<string> Results, string? Explanation);

    internal sealed record Section(string Description, IReadOnlyDictionary<string, Case> Cases, IReadOnlyDictionary<string, List<ZoneRecord>> Zone);

    private static IReadOnlyList<Section> Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "fixtures", "spf", "rfc7208-tests.yml");
        var stream = new YamlStream();
        using (var reader = new StreamReader(path))
        {
            stream.Load(reader);
        }

        var sections = new List<Section>();
        foreach (var document in stream.Documents)
        {
            var root = (YamlMappingNode)document.RootNode;
            var description = Scalar(root, "description")!;
            var cases = new Dictionary<string, Case>();
            foreach (var (key, value) in (YamlMappingNode)root["tests"])
            {
                var node = (YamlMappingNode)value;
                var result = node["result"];
                var results = result is YamlSequenceNode list ? list.Children.Select(c => ((YamlScalarNode)c).Value!).ToList() : [((YamlScalarNode)result).Value!];
                cases[((YamlScalarNode)key).Value!] = new Case(Scalar(node, "helo") ?? string.Empty, Scalar(node, "host")!, Scalar(node, "mailfrom") ?? string.Empty, results, Scalar(node, "explanation"));
            }

            var zone = new Dictionary<string, List<ZoneRecord>>();
            if (root.Children.TryGetValue(new YamlScalarNode("zonedata"), out var zoneNode))
            {
                foreach (var (key, value) in (YamlMappingNode)zoneNode)
                {
                    zone[((YamlScalarNode)key).Value!] = ((YamlSequenceNode)value).Children.Select(ParseRecord).ToList();
                }
            }

            sections.Add(new Section(description, cases, zone));
        }

        return sections;
    }

    private static ZoneRecord ParseRecord(YamlNode node)
    {
        if (node is YamlScalarNode { Value: "TIMEOUT" })
        {
            return ZoneRecord.Timeout;
        }

        var (key, value) = ((YamlMappingNode)node).Children.Single();
        var type = ((YamlScalarNode)key).Value!;
        if (value is YamlScalarNode { Value: "TIMEOUT" })
        {
            // A type that times out (pyspf: "if v == 'TIMEOUT'"): never answered.
            return new ZoneRecord(type, ZoneRecord.Timeout);
        }

        return type switch
        {
            "TXT" or "SPF" => value is YamlScalarNode { Value: "NONE" }
                ? new ZoneRecord(type, null)
                : new ZoneRecord(type, value is YamlSequenceNode parts ? parts.Children.Select(c => ((YamlScalarNode)c).Value ?? string.Empty).ToArray() : [((YamlScalarNode)value).Value ?? string.Empty]),
            "MX" => new ZoneRecord(type, (int.Parse(((YamlScalarNode)((YamlSequenceNode)value)[0]).Value!, System.Globalization.CultureInfo.InvariantCulture), ((YamlScalarNode)((YamlSequenceNode)value)[1]).Value ?? string.Empty)),
            "A" or "AAAA" => new ZoneRecord(type, IPAddress.Parse(((YamlScalarNode)value).Value!)),
            _ => new ZoneRecord(type, ((YamlScalarNode)value).Value),
        };
    }

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? ((YamlScalarNode)value).Value : null;

    /// <summary>One DNS server per section, made when the section's first case runs, stopped when the class is done.</summary>
    public sealed class ZoneServers : IAsyncDisposable
    {
        private readonly ConcurrentDictionary<string, Lazy<Task<LoopbackDnsServer>>> _servers = new();

        internal Task<LoopbackDnsServer> ForAsync(Section section) =>
            _servers.GetOrAdd(section.Description, _ => new Lazy<Task<LoopbackDnsServer>>(() => StartAsync(section))).Value;

        private static async Task<LoopbackDnsServer> StartAsync(Section section)
        {
            var server = new LoopbackDnsServer();
            foreach (var (name, records) in section.Zone)
            {
                server.Add(name, [.. records]);
            }

            // A first query with a generous timeout: the server's loops and the resolver's code are running before a
            // case's short timeouts start counting.
            await new DnsResolver([server.EndPoint], TimeSpan.FromSeconds(10), retries: 2).TxtAsync("warm-up.invalid", CancellationToken.None);
            return server;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var server in _servers.Values.Where(s => s.IsValueCreated))
            {
                await (await server.Value).DisposeAsync();
            }
        }
    }
}

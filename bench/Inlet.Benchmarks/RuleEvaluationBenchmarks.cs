using BenchmarkDotNet.Attributes;
using Inlet.Rules;

namespace Inlet.Benchmarks;

/// <summary>
/// Which rules apply to a message: the work done for every message before its actions run. Rules have three
/// conditions each (an address, a domain, a subdomain pattern); one rule in ten matches the recipient.
/// </summary>
[MemoryDiagnoser]
public class RuleEvaluationBenchmarks
{
    private ReceiptRuleSet _ruleSet = null!;
    private readonly string[] _recipients = ["user+tag@example.com", "other@example.org"];

    [Params(1, 50, 200)]
    public int Rules { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rules = Enumerable.Range(0, Rules).Select(i => new ReceiptRule
        {
            Name = $"rule-{i}",
            Enabled = true,
            Recipients = i % 10 == 9 || Rules == 1
                ? ["user@example.com", "example.net", ".example.io"]
                : [$"person{i}@example{i}.com", $"example{i}.org", $".sub{i}.example.com"],
            Actions = [new S3ReceiptAction("bucket")],
        });
        _ruleSet = new ReceiptRuleSet { Name = "bench", Rules = [.. rules] };
    }

    [Benchmark]
    public int Plan() => RuleEvaluator.Plan(_ruleSet, _recipients, receivedOverTls: false).Count;

    [Benchmark]
    public bool AcceptRecipient() => RecipientAcceptance.Decide(_ruleSet, _recipients[0], isSecure: false) == RecipientDecision.Accept;
}

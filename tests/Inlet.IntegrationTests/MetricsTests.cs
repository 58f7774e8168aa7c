using MimeKit;

namespace Inlet.IntegrationTests;

/// <summary>/metrics as a Prometheus server scrapes it, after real traffic.</summary>
public class MetricsTests
{
    [Fact]
    public async Task Metrics_AfterAMessage_FollowPrometheusNamingConventions()
    {
        await using var server = await TestServer.StartAsync("""
            ReceiptRuleSets:
              - RuleSetName: main
                Rules:
                  - Name: store
                    Enabled: true
                    Actions: [{ S3Action: { BucketName: counted } }]
            """);
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("a@sender.test"));
        message.To.Add(MailboxAddress.Parse("b@example.com"));
        message.Subject = "count me";
        message.Body = new TextPart("plain") { Text = "x" };
        var id = await ReceiptRuleTests.SendAsync(server, message);
        await server.WaitForMessageAsync(id);

        using var anonymous = new HttpClient { BaseAddress = server.Http.BaseAddress };
        var text = await anonymous.GetStringAsync("/metrics");
        // The counters are process-wide and other tests run beside this one: at least this message is counted.
        Assert.Matches(@"(?m)^# TYPE inlet_messages_accepted_total counter$", text);
        Assert.Matches(@"(?m)^inlet_messages_accepted_total [1-9]\d*$", text);
        Assert.Matches(@"(?m)^# TYPE inlet_actions_total counter$", text);
        Assert.Matches(@"(?m)^inlet_actions_total\{outcome=""Continue"",type=""S3""\} [1-9]\d*$", text);
        Assert.DoesNotContain("inlet_inlet", text, StringComparison.Ordinal);

        // A Prometheus server asks for OpenMetrics first: there the family drops _total and the sample keeps it.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.TryAddWithoutValidation("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5");
        using var response = await anonymous.SendAsync(request);
        var open = await response.Content.ReadAsStringAsync();
        Assert.Contains("application/openmetrics-text", response.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
        Assert.Matches(@"(?m)^# TYPE inlet_messages_accepted counter$", open);
        Assert.Matches(@"(?m)^inlet_messages_accepted_total [1-9]\d*(\.0)?$", open);
        Assert.DoesNotContain("_total_total", open, StringComparison.Ordinal);
    }
}

using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace Inlet.IntegrationTests;

/// <summary>Lambda's management API through the real aws CLI.</summary>
public class LambdaApiTests
{
    private static string Zip(string directory, string name, string code)
    {
        var path = Path.Combine(directory, name + ".zip");
        using var archive = ZipFile.Open(path, ZipArchiveMode.Create);
        var entry = archive.CreateEntry("index.js");
        using var writer = new StreamWriter(entry.Open());
        writer.Write(code);
        return path;
    }

    private static async Task<AwsCli.Result> Lambda(TestServer server, params string[] arguments) =>
        await AwsCli.RunAsync(server, ["lambda", .. arguments]);

    [Fact]
    public async Task Functions_CreateInvokeUpdateConfigureAndDelete_WithTheAwsCli()
    {
        var directory = TestServer.NewDirectory();
        await using (var server = await TestServer.StartAsync("", directory: directory))
        {
            var v1 = Zip(directory, "v1", "exports.handler = async (e) => ({ version: 1, greeting: process.env.GREETING ?? null });");
            var create = await Lambda(server, "create-function", "--function-name", "api-fn", "--runtime", "nodejs20.x", "--role", "arn:aws:iam::000000000000:role/x",
                "--handler", "index.handler", "--zip-file", "fileb://" + v1, "--timeout", "5", "--environment", "Variables={GREETING=hi}");
            Assert.True(create.ExitCode == 0, create.Error);
            Assert.Equal("arn:aws:lambda:us-east-1:000000000000:function:api-fn", create.Json.GetProperty("FunctionArn").GetString());
            Assert.Equal(5, create.Json.GetProperty("Timeout").GetInt32());
            Assert.Equal("Active", create.Json.GetProperty("State").GetString());

            var again = await Lambda(server, "create-function", "--function-name", "api-fn", "--runtime", "nodejs20.x", "--role", "arn:aws:iam::000000000000:role/x", "--handler", "index.handler", "--zip-file", "fileb://" + v1);
            Assert.Contains("(ResourceConflictException)", again.Error);
            var badRuntime = await Lambda(server, "create-function", "--function-name", "other", "--runtime", "cobol85", "--role", "arn:aws:iam::000000000000:role/x", "--handler", "index.handler", "--zip-file", "fileb://" + v1);
            Assert.Contains("(InvalidParameterValueException)", badRuntime.Error);

            var output = Path.Combine(directory, "out.json");
            Assert.Equal(0, (await Lambda(server, "invoke", "--function-name", "api-fn", output)).ExitCode);
            Assert.Equal("""{"version":1,"greeting":"hi"}""", await File.ReadAllTextAsync(output));

            var v2 = Zip(directory, "v2", "exports.handler = async () => ({ version: 2 });");
            var update = await Lambda(server, "update-function-code", "--function-name", "api-fn", "--zip-file", "fileb://" + v2);
            Assert.True(update.ExitCode == 0, update.Error);
            Assert.Equal(0, (await Lambda(server, "invoke", "--function-name", "api-fn", output)).ExitCode);
            Assert.Equal("""{"version":2}""", await File.ReadAllTextAsync(output));

            var configure = await Lambda(server, "update-function-configuration", "--function-name", "api-fn", "--timeout", "9", "--memory-size", "256");
            Assert.Equal(9, configure.Json.GetProperty("Timeout").GetInt32());
            Assert.Equal(256, (await Lambda(server, "get-function", "--function-name", "api-fn")).Json.GetProperty("Configuration").GetProperty("MemorySize").GetInt32());

            var eventConfig = await Lambda(server, "put-function-event-invoke-config", "--function-name", "api-fn", "--maximum-retry-attempts", "0", "--maximum-event-age-in-seconds", "120");
            Assert.True(eventConfig.ExitCode == 0, eventConfig.Error);
            var read = (await Lambda(server, "get-function-event-invoke-config", "--function-name", "api-fn")).Json;
            Assert.Equal(0, read.GetProperty("MaximumRetryAttempts").GetInt32());
            Assert.Equal(120, read.GetProperty("MaximumEventAgeInSeconds").GetInt32());
            Assert.Contains("(InvalidParameterValueException)", (await Lambda(server, "put-function-event-invoke-config", "--function-name", "api-fn", "--maximum-retry-attempts", "5")).Error);

            var permission = await Lambda(server, "add-permission", "--function-name", "api-fn", "--statement-id", "ses", "--action", "lambda:InvokeFunction", "--principal", "ses.amazonaws.com");
            Assert.True(permission.ExitCode == 0, permission.Error);
            Assert.Contains("ses.amazonaws.com", permission.Json.GetProperty("Statement").GetString());

            var list = (await Lambda(server, "list-functions")).Json.GetProperty("Functions");
            Assert.Equal("api-fn", Assert.Single(list.EnumerateArray()).GetProperty("FunctionName").GetString());
        }

        await using (var restarted = await TestServer.StartAsync("", directory: directory))
        {
            var output = Path.Combine(directory, "after.json");
            Assert.Equal(0, (await Lambda(restarted, "invoke", "--function-name", "api-fn", output)).ExitCode);
            Assert.Equal("""{"version":2}""", await File.ReadAllTextAsync(output));
            Assert.Equal(0, (await Lambda(restarted, "delete-function", "--function-name", "api-fn")).ExitCode);
            Assert.Contains("(ResourceNotFoundException)", (await Lambda(restarted, "get-function", "--function-name", "api-fn")).Error);
        }
    }

    [Fact]
    public async Task CreateFunction_WithABodyThatIsNotJson_IsInvalidRequestContent()
    {
        await using var server = await TestServer.StartAsync("");
        using var response = await server.Http.PostAsync("/2015-03-31/functions", new StringContent("{not json"));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("InvalidRequestContentException", response.Headers.GetValues("x-amzn-ErrorType").Single());
    }

    [Fact]
    public async Task CreateFunction_Role_IsKeptByGetAndListAndAcrossARestart()
    {
        const string Role = "arn:aws:iam::123456789012:role/service-role/ses-filter-role";
        var directory = TestServer.NewDirectory();
        var zip = Zip(directory, "fn", "exports.handler = async () => ({});");
        await using (var server = await TestServer.StartAsync("", directory: directory))
        {
            var create = await Lambda(server, "create-function", "--function-name", "with-role", "--runtime", "nodejs20.x", "--role", Role, "--handler", "index.handler", "--zip-file", "fileb://" + zip);
            Assert.True(create.ExitCode == 0, create.Error);
            Assert.Equal(Role, create.Json.GetProperty("Role").GetString());
            Assert.Equal(Role, (await Lambda(server, "get-function", "--function-name", "with-role")).Json.GetProperty("Configuration").GetProperty("Role").GetString());
            Assert.Equal(Role, (await Lambda(server, "list-functions")).Json.GetProperty("Functions")[0].GetProperty("Role").GetString());

            var bad = await Lambda(server, "create-function", "--function-name", "bad-role", "--runtime", "nodejs20.x", "--role", "not-a-role", "--handler", "index.handler", "--zip-file", "fileb://" + zip);
            Assert.Contains("(ValidationException)", bad.Error);
            Assert.Contains("at 'role'", bad.Error);
            using var missing = await server.Http.PostAsync("/2015-03-31/functions", new StringContent($$$"""{"FunctionName":"no-role","Runtime":"nodejs20.x","Handler":"index.handler","Code":{"ZipFile":"{{{Convert.ToBase64String(await File.ReadAllBytesAsync(zip))}}}"}}"""));
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, missing.StatusCode);
            Assert.Equal("ValidationException", missing.Headers.GetValues("x-amzn-ErrorType").Single());
        }

        await using (var restarted = await TestServer.StartAsync("", directory: directory))
        {
            Assert.Equal(Role, (await Lambda(restarted, "get-function", "--function-name", "with-role")).Json.GetProperty("Configuration").GetProperty("Role").GetString());
            const string Other = "arn:aws:iam::123456789012:role/other";
            var update = await Lambda(restarted, "update-function-configuration", "--function-name", "with-role", "--role", Other);
            Assert.True(update.ExitCode == 0, update.Error);
            Assert.Equal(Other, (await Lambda(restarted, "get-function", "--function-name", "with-role")).Json.GetProperty("Configuration").GetProperty("Role").GetString());
        }
    }
}

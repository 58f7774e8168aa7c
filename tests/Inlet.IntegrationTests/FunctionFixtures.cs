namespace Inlet.IntegrationTests;

/// <summary>Function code written into a test's folder: real Node and Python handlers and a Python bootstrap.</summary>
internal static class FunctionFixtures
{
    /// <summary>The handler of the SES documentation, exactly as written there.</summary>
    public const string SesDocumentationHandler = """
        exports.handler = function(event, context, callback) {
            console.log('Spam filter');

            var sesNotification = event.Records[0].ses;
            console.log("SES Notification:\n", JSON.stringify(sesNotification, null, 2));

            callback( null, { "disposition" : "STOP_RULE_SET" });
        };
        """;

    /// <summary>Answers the disposition named in the message's subject, and records every event it sees.</summary>
    public const string SubjectDisposition = """
        const fs = require('fs');
        exports.handler = async (event, context) => {
            fs.appendFileSync(process.env.EVENT_LOG, JSON.stringify(event) + '\n');
            const subject = event.Records[0].ses.mail.commonHeaders.subject || '';
            console.log('subject', subject);
            console.error('to stderr');
            if (subject === 'null') return null;
            if (subject === 'nothing') return;
            if (subject === 'throw') throw new TypeError('bad subject');
            if (subject === 'crash') process.exit(3);
            if (subject === 'sleep') await new Promise(r => setTimeout(r, 5000));
            return { disposition: subject };
        };
        """;

    public const string EsModule = """
        export const handler = async (event) => ({ disposition: 'STOP_RULE', from: 'esm', records: event.Records.length });
        """;

    /// <summary>A provided-runtime bootstrap: a Runtime API client in a few lines of Python.</summary>
    public const string PythonBootstrap = """
        #!/usr/bin/env python3
        import json, os, urllib.request
        api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
        while True:
            with urllib.request.urlopen(api + "next") as response:
                request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
                event = json.loads(response.read())
            print("python got", len(event["Records"]), "record(s)", flush=True)
            body = json.dumps({"disposition": "stop_rule_set", "handler": os.environ["_HANDLER"]}).encode()
            urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=body, method="POST")).read()
        """;

    /// <summary>
    /// A folder a function may write into, for tests that record what a function saw: functions run as an
    /// unprivileged user when the tests run as root, and Inlet's data folder is closed to that user.
    /// </summary>
    public static string OutputFolder(string directory)
    {
        var folder = Path.Combine(directory, "function-output");
        Directory.CreateDirectory(folder);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(folder, (UnixFileMode)0b111_111_111);
        }

        return folder;
    }
    /// <summary>A Python handler answering the disposition named in the subject, as SES's Python examples do.</summary>
    public const string PythonSubjectDisposition = """
        def lambda_handler(event, context):
            subject = event["Records"][0]["ses"]["mail"]["commonHeaders"].get("subject", "")
            print("subject", subject)
            if subject == "raise":
                raise ValueError("bad subject")
            return {"disposition": subject}
        """;

    /// <summary>A Python handler in a package, reporting what it sees of its context and environment.</summary>
    public const string PythonContext = """
        import importlib.util
        import logging
        import os
        import sys

        logger = logging.getLogger()
        logger.setLevel(logging.INFO)
        print("module loaded")


        def handler(event, context):
            print("python says", event.get("hello"))
            logger.info("through logging")
            if event.get("fail"):
                raise KeyError("asked to fail")
            if event.get("unserialisable"):
                return {1, 2}
            return {
                "function_name": context.function_name,
                "function_version": context.function_version,
                "invoked_function_arn": context.invoked_function_arn,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "aws_request_id": context.aws_request_id,
                "log_group_name": context.log_group_name,
                "log_stream_name": context.log_stream_name,
                "remaining": context.get_remaining_time_in_millis(),
                "identity_id": context.identity.cognito_identity_id,
                "client_context": context.client_context,
                "first_path": sys.path[0],
                "boto3": importlib.util.find_spec("boto3") is not None,
                "execution_env": os.environ.get("AWS_EXECUTION_ENV"),
                "mark_visible": any(k.startswith("_INLET") for k in os.environ),
            }
        """;

    public static string Write(string directory, string name, string file, string code)
    {
        var folder = Path.Combine(directory, "functions-src", name);
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, code.Replace("\r\n", "\n", StringComparison.Ordinal));
        if (file == "bootstrap" && !OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        }

        return folder;
    }
}

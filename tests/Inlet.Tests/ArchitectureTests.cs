using System.Text.RegularExpressions;

namespace Inlet.Tests;

/// <summary>
/// The folders of src/Inlet.Server are its subsystems, and their dependencies point one way (docs/architecture.md).
/// These tests read the code itself — each file's namespace, its <c>using</c> directives and its qualified
/// <c>Inlet.X.</c> references — so that an arrow drawn the wrong way fails here, naming the files that draw it.
/// </summary>
public sealed partial class ArchitectureTests
{
    /// <summary>
    /// What the Api (and the console) may use: Management for everything the engine does — receipt rules and messages,
    /// and the AWS services Inlet serves as APIs of their own: Lambda, its logs and its callers' credentials
    /// (FunctionsService), SNS (TopicsService), SES sending (SendingService) — Core, and the pure shapes the APIs speak,
    /// which live below both the Api and the engine so that neither reaches into the other for them: the Storage
    /// records (a function definition and the log lines among them), the receipt rules of Rules, and the SES objects of
    /// Mail (the mail object, and what the sending APIs take). Storage is also used for what is storage itself: the
    /// buckets S3Api serves, and read-only listings of records (dead-lettered invocations, deliveries, a message's
    /// content for the console). Never the engine: Functions, Notifications, Outbound, Smtp, Processing, Actions,
    /// Authentication, nor Hosting.
    /// </summary>
    private static readonly HashSet<string> s_apiMayUse = ["Management", "Core", "Storage", "Rules", "Mail"];

    /// <summary>Folders that use nothing but Core (and, for Authentication, Mail).</summary>
    private static readonly Dictionary<string, HashSet<string>> s_leaves = new()
    {
        ["Core"] = [],
        ["Smtp"] = ["Core"],
        ["Rules"] = ["Core"],
        ["Mail"] = ["Core"],
        ["Storage"] = ["Core"],
        ["Authentication"] = ["Mail", "Core"],
    };

    [Fact]
    public void Folders_DependencyGraph_HasNoCycle()
    {
        var graph = FolderGraph.Read(SourceRoot());
        var cycles = graph.Cycles();
        Assert.True(cycles.Count == 0, "Folders of src/Inlet.Server that depend on each other:\n" + string.Join("\n", cycles.Select(graph.Explain)));
    }

    [Fact]
    public void Folders_Namespaces_MatchTheFolder()
    {
        var wrong = FolderGraph.Read(SourceRoot()).Files.Where(f => f.Namespace is not null && f.Namespace.Split('.') is var parts && (parts.Length < 2 || parts[1] != f.Folder))
            .Select(f => $"{f.Path}: namespace {f.Namespace}").ToList();
        Assert.True(wrong.Count == 0, "Files whose namespace is not Inlet.<their folder>:\n" + string.Join("\n", wrong));
    }

    [Theory]
    [InlineData("Api")]
    [InlineData("WebConsole")]
    public void Api_ReachesTheEngine_OnlyThroughManagement(string folder)
    {
        var graph = FolderGraph.Read(SourceRoot());
        // The console is served beside the API and shares its HTTP helpers (error documents, JSON contexts).
        var bad = graph.EdgesFrom(folder).Where(e => !s_apiMayUse.Contains(e.Key) && !(folder == "WebConsole" && e.Key == "Api"))
            .Select(e => $"{folder} -> {e.Key}: {string.Join(", ", e.Value.Order(StringComparer.Ordinal))}").ToList();
        Assert.True(bad.Count == 0, $"{folder}/ uses folders it must reach through Management/:\n" + string.Join("\n", bad));
    }

    [Fact]
    public void LeafFolders_UseOnlyWhatTheyMay()
    {
        var graph = FolderGraph.Read(SourceRoot());
        var bad = s_leaves.SelectMany(leaf => graph.EdgesFrom(leaf.Key).Where(e => !leaf.Value.Contains(e.Key))
            .Select(e => $"{leaf.Key} -> {e.Key}: {string.Join(", ", e.Value.Order(StringComparer.Ordinal))}")).ToList();
        Assert.True(bad.Count == 0, "Folders that should stand on Core alone use more:\n" + string.Join("\n", bad));
    }

    /// <summary>
    /// Actions reach functions, notifications, outbound mail and storage through their interfaces, and answer with an
    /// outcome value — never an SMTP reply, never the pipeline that runs them.
    /// </summary>
    [Theory]
    [InlineData("Actions", "Smtp")]
    [InlineData("Actions", "Processing")]
    [InlineData("Processing", "Management")]
    [InlineData("Outbound", "Processing")]
    [InlineData("Functions", "Processing")]
    [InlineData("Notifications", "Processing")]
    public void Folder_DoesNotUse(string folder, string forbidden)
    {
        var edges = FolderGraph.Read(SourceRoot()).EdgesFrom(folder);
        Assert.False(edges.ContainsKey(forbidden), $"{folder} -> {forbidden}: {(edges.TryGetValue(forbidden, out var files) ? string.Join(", ", files) : string.Empty)}");
    }

    [Fact]
    public void LogEventIds_AreUniqueAndInTheirFolderRange()
    {
        var problems = new List<string>();
        var seen = new Dictionary<int, string>();
        foreach (var file in FolderGraph.Read(SourceRoot()).Files)
        {
            foreach (Match m in EventIdPattern().Matches(file.Text))
            {
                var id = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                if (seen.TryGetValue(id, out var other))
                {
                    problems.Add($"event id {id} is used by {other} and {file.Path}");
                }

                seen[id] = file.Path;
                if (!LogEventIds.Ranges.TryGetValue(file.Folder, out var range) || id < range.First || id > range.Last)
                {
                    problems.Add($"event id {id} in {file.Path} is outside the range of {file.Folder} in Core/Telemetry.cs");
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void FolderGraph_FindsACycle_AndNamesIt()
    {
        var graph = new FolderGraph([
            new SourceFile("A/One.cs", "A", "Inlet.A", "using Inlet.B;"),
            new SourceFile("B/Two.cs", "B", "Inlet.B", "var x = Inlet.C.Thing.Make();"),
            new SourceFile("C/Three.cs", "C", "Inlet.C", "using Inlet.A;"),
            new SourceFile("D/Four.cs", "D", "Inlet.D", "using Inlet.A; // Inlet.B.Nothing in a comment"),
        ]);

        var cycle = Assert.Single(graph.Cycles());
        Assert.Equal(["A", "B", "C"], cycle.Order(StringComparer.Ordinal));
        Assert.Contains("A -> B (A/One.cs)", graph.Explain(cycle), StringComparison.Ordinal);
        Assert.DoesNotContain("B", graph.EdgesFrom("D").Keys);
    }

    private static string SourceRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Inlet.slnx")))
            {
                return Path.Combine(dir.FullName, "src", "Inlet.Server");
            }
        }

        throw new InvalidOperationException("The repository (Inlet.slnx) is not above the test assembly.");
    }

    [GeneratedRegex(@"LoggerMessage\(EventId\s*=\s*(\d+)")]
    private static partial Regex EventIdPattern();

    internal sealed record SourceFile(string Path, string Folder, string? Namespace, string Text);

    /// <summary>The folders and the references between them, with the files behind each arrow.</summary>
    internal sealed partial class FolderGraph(IReadOnlyList<SourceFile> files)
    {
        private readonly Dictionary<string, Dictionary<string, SortedSet<string>>> _edges = Build(files);

        public IReadOnlyList<SourceFile> Files => files;

        public static FolderGraph Read(string root)
        {
            var list = new List<SourceFile>();
            foreach (var path in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories))
            {
                var relative = System.IO.Path.GetRelativePath(root, path).Replace('\\', '/');
                if (relative.StartsWith("bin/", StringComparison.Ordinal) || relative.StartsWith("obj/", StringComparison.Ordinal) || !relative.Contains('/', StringComparison.Ordinal))
                {
                    continue;
                }

                var text = File.ReadAllText(path);
                var ns = NamespacePattern().Match(text);
                list.Add(new SourceFile(relative, relative[..relative.IndexOf('/', StringComparison.Ordinal)], ns.Success ? ns.Groups[1].Value : null, text));
            }

            return new FolderGraph(list);
        }

        public IReadOnlyDictionary<string, SortedSet<string>> EdgesFrom(string folder) =>
            _edges.TryGetValue(folder, out var edges) ? edges : new Dictionary<string, SortedSet<string>>();

        /// <summary>The strongly connected components with more than one folder (Tarjan), each a set of folders in a cycle.</summary>
        public List<List<string>> Cycles()
        {
            var index = 0;
            var indices = new Dictionary<string, int>();
            var low = new Dictionary<string, int>();
            var stack = new Stack<string>();
            var result = new List<List<string>>();

            void Visit(string v)
            {
                indices[v] = low[v] = index++;
                stack.Push(v);
                foreach (var w in EdgesFrom(v).Keys)
                {
                    if (!indices.ContainsKey(w))
                    {
                        Visit(w);
                        low[v] = Math.Min(low[v], low[w]);
                    }
                    else if (stack.Contains(w))
                    {
                        low[v] = Math.Min(low[v], indices[w]);
                    }
                }

                if (low[v] == indices[v])
                {
                    var component = new List<string>();
                    string w;
                    do
                    {
                        w = stack.Pop();
                        component.Add(w);
                    }
                    while (w != v);

                    if (component.Count > 1)
                    {
                        result.Add(component);
                    }
                }
            }

            foreach (var v in _edges.Keys.Order(StringComparer.Ordinal))
            {
                if (!indices.ContainsKey(v))
                {
                    Visit(v);
                }
            }

            return result;
        }

        /// <summary>The arrows inside one cycle, each with the files that make it.</summary>
        public string Explain(List<string> cycle) =>
            string.Join("\n", cycle.Order(StringComparer.Ordinal).SelectMany(a => EdgesFrom(a).Where(e => cycle.Contains(e.Key))
                .Select(e => $"  {a} -> {e.Key} ({string.Join(", ", e.Value)})")));

        private static Dictionary<string, Dictionary<string, SortedSet<string>>> Build(IReadOnlyList<SourceFile> files)
        {
            var edges = new Dictionary<string, Dictionary<string, SortedSet<string>>>();
            foreach (var file in files)
            {
                var code = CommentsAndStrings().Replace(file.Text, " ");
                var targets = UsingPattern().Matches(code).Select(m => m.Groups[1].Value)
                    .Concat(QualifiedPattern().Matches(code).Select(m => m.Groups[1].Value));
                foreach (var target in targets.Where(t => t != file.Folder && char.IsUpper(t[0])))
                {
                    if (!edges.TryGetValue(file.Folder, out var from))
                    {
                        edges[file.Folder] = from = [];
                    }

                    if (!from.TryGetValue(target, out var paths))
                    {
                        from[target] = paths = new SortedSet<string>(StringComparer.Ordinal);
                    }

                    paths.Add(file.Path);
                }
            }

            return edges;
        }

        [GeneratedRegex(@"^\s*namespace\s+([\w.]+)", RegexOptions.Multiline)]
        private static partial Regex NamespacePattern();

        [GeneratedRegex(@"^\s*(?:global\s+)?using\s+(?:static\s+)?(?:\w+\s*=\s*)?Inlet\.(\w+)", RegexOptions.Multiline)]
        private static partial Regex UsingPattern();

        [GeneratedRegex(@"(?<![\w.])Inlet\.(\w+)\.\w")]
        private static partial Regex QualifiedPattern();

        /// <summary>Comments and string literals, which name types without using them.</summary>
        [GeneratedRegex(@"//[^\n]*|/\*.*?\*/|@""(?:[^""]|"""")*""|"""""".*?""""""|""(?:\\.|[^""\\\n])*""", RegexOptions.Singleline)]
        private static partial Regex CommentsAndStrings();
    }
}

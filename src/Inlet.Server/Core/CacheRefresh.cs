using System.Collections.Concurrent;

namespace Inlet.Core;

/// <summary>How a node's cache of a stored aggregate takes what the store now holds.</summary>
internal static class CacheRefresh
{
    /// <summary>
    /// Makes the cache hold exactly <paramref name="stored"/>: new and changed entries are put, entries the store no
    /// longer has are removed. Readers see each entry old or new, never a cache emptied in between.
    /// </summary>
    public static void ReplaceWith<T>(this ConcurrentDictionary<string, T> cache, IReadOnlyDictionary<string, T> stored)
    {
        foreach (var (key, value) in stored)
        {
            cache[key] = value;
        }

        foreach (var key in cache.Keys.Where(k => !stored.ContainsKey(k)))
        {
            cache.TryRemove(key, out _);
        }
    }
}

using System.Collections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace Aio.AspNetCore;

/// <summary>
/// A connection's features: the seven the connection implements itself are fields, compared by type reference;
/// anything else Kestrel or the application sets goes in a short list searched in order. A
/// <see cref="FeatureCollection"/> cost every connection a dictionary (two arrays) and every lookup a virtual hash of a
/// <see cref="Type"/>, and Kestrel looks up features of each connection it accepts; Kestrel's own transports keep
/// their well-known features in fields for the same reason. Not thread-safe, like <see cref="FeatureCollection"/>.
/// </summary>
internal sealed class AioConnectionFeatures : IFeatureCollection
{
    private object? _id;
    private object? _transport;
    private object? _items;
    private object? _memoryPool;
    private object? _lifetime;
    private object? _endPoint;
    private object? _socket;
    private List<KeyValuePair<Type, object>>? _extra;
    private int _revision;

    /// <summary>A collection whose seven connection features are all <paramref name="connection"/>.</summary>
    public AioConnectionFeatures(object connection)
    {
        _id = _transport = _items = _memoryPool = _lifetime = _endPoint = _socket = connection;
    }

    /// <inheritdoc/>
    public bool IsReadOnly => false;

    /// <inheritdoc/>
    public int Revision => _revision;

    /// <inheritdoc/>
    public object? this[Type key]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(key);
            int slot = Slot(key);
            if (slot >= 0)
            {
                return GetKnown(slot);
            }

            if (_extra is { } extra)
            {
                foreach (var pair in extra)
                {
                    if (pair.Key == key)
                    {
                        return pair.Value;
                    }
                }
            }

            return null;
        }

        set
        {
            ArgumentNullException.ThrowIfNull(key);

            // As FeatureCollection counts: every set of a value, and a removal only of what was there.
            int slot = Slot(key);
            if (slot >= 0)
            {
                if (value is not null || GetKnown(slot) is not null)
                {
                    SetKnown(slot, value);
                    _revision++;
                }

                return;
            }

            if (SetExtra(key, value))
            {
                _revision++;
            }
        }
    }

    /// <inheritdoc/>
    public TFeature? Get<TFeature>() => (TFeature?)this[typeof(TFeature)];

    /// <inheritdoc/>
    public void Set<TFeature>(TFeature? instance) => this[typeof(TFeature)] = instance;

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<Type, object>> GetEnumerator()
    {
        foreach (var (type, value) in KnownPairs())
        {
            if (value is not null)
            {
                yield return new KeyValuePair<Type, object>(type, value);
            }
        }

        if (_extra is { } extra)
        {
            foreach (var pair in extra)
            {
                yield return pair;
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private (Type, object?)[] KnownPairs() =>
    [
        (typeof(IConnectionIdFeature), _id),
        (typeof(IConnectionTransportFeature), _transport),
        (typeof(IConnectionItemsFeature), _items),
        (typeof(IMemoryPoolFeature), _memoryPool),
        (typeof(IConnectionLifetimeFeature), _lifetime),
        (typeof(IConnectionEndPointFeature), _endPoint),
        (typeof(IConnectionSocketFeature), _socket),
    ];

    /// <summary>The field number of a known feature type (the order of <see cref="KnownPairs"/>), or -1.</summary>
    private static int Slot(Type key)
        => key == typeof(IConnectionIdFeature) ? 0
        : key == typeof(IConnectionTransportFeature) ? 1
        : key == typeof(IConnectionItemsFeature) ? 2
        : key == typeof(IMemoryPoolFeature) ? 3
        : key == typeof(IConnectionLifetimeFeature) ? 4
        : key == typeof(IConnectionEndPointFeature) ? 5
        : key == typeof(IConnectionSocketFeature) ? 6
        : -1;

    private object? GetKnown(int slot) => slot switch
    {
        0 => _id,
        1 => _transport,
        2 => _items,
        3 => _memoryPool,
        4 => _lifetime,
        5 => _endPoint,
        _ => _socket,
    };

    private void SetKnown(int slot, object? value)
    {
        switch (slot)
        {
            case 0: _id = value; break;
            case 1: _transport = value; break;
            case 2: _items = value; break;
            case 3: _memoryPool = value; break;
            case 4: _lifetime = value; break;
            case 5: _endPoint = value; break;
            default: _socket = value; break;
        }
    }

    /// <summary>Sets, replaces or removes a feature of the list; false when a removal found nothing.</summary>
    private bool SetExtra(Type key, object? value)
    {
        var extra = _extra;
        if (extra is not null)
        {
            for (int i = 0; i < extra.Count; i++)
            {
                if (extra[i].Key == key)
                {
                    if (value is null)
                    {
                        extra.RemoveAt(i);
                    }
                    else
                    {
                        extra[i] = new KeyValuePair<Type, object>(key, value);
                    }

                    return true;
                }
            }
        }

        if (value is null)
        {
            return false;
        }

        (_extra ??= new List<KeyValuePair<Type, object>>(4)).Add(new KeyValuePair<Type, object>(key, value));
        return true;
    }
}

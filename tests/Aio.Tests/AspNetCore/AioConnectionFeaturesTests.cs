using Aio.AspNetCore;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Xunit;

namespace Aio.Tests.AspNetCore;

/// <summary>
/// The connection's feature collection keeps <see cref="FeatureCollection"/>'s contract: the seven connection features
/// come from the connection, any of them can be replaced or removed, other features are added, replaced and removed by
/// type, enumeration lists each feature once, and every set changes <see cref="IFeatureCollection.Revision"/>.
/// </summary>
public sealed class AioConnectionFeaturesTests
{
    private static readonly Type[] Known =
    [
        typeof(IConnectionIdFeature), typeof(IConnectionTransportFeature), typeof(IConnectionItemsFeature), typeof(IMemoryPoolFeature),
        typeof(IConnectionLifetimeFeature), typeof(IConnectionEndPointFeature), typeof(IConnectionSocketFeature),
    ];

    [Fact]
    public void The_connection_features_are_the_connection_and_nothing_else_is_there()
    {
        var connection = new object();
        var features = new AioConnectionFeatures(connection);
        Assert.All(Known, type => Assert.Same(connection, features[type]));
        Assert.Null(features.Get<IConnectionHeartbeatFeature>());
        Assert.Null(features[typeof(string)]);
        Assert.False(features.IsReadOnly);
        Assert.Equal(Known.OrderBy(t => t.FullName), features.Select(p => p.Key).OrderBy(t => t.FullName));
        Assert.All(features, pair => Assert.Same(connection, pair.Value));
        Assert.Throws<ArgumentNullException>(() => features[null!]);
        Assert.Throws<ArgumentNullException>(() => features[null!] = 1);
    }

    [Fact]
    public void Each_known_feature_can_be_replaced_and_removed_on_its_own()
    {
        var connection = new object();
        foreach (var type in Known)
        {
            var features = new AioConnectionFeatures(connection);
            var replacement = new object();
            features[type] = replacement;
            Assert.Same(replacement, features[type]);
            Assert.All(Known.Where(t => t != type), other => Assert.Same(connection, features[other]));

            features[type] = null;
            Assert.Null(features[type]);
            Assert.DoesNotContain(features, pair => pair.Key == type);
            Assert.Equal(Known.Length - 1, features.Count());
        }
    }

    [Fact]
    public void Other_features_are_added_replaced_and_removed_by_type()
    {
        var features = new AioConnectionFeatures(new object());
        var heartbeat = new object();
        var complete = new object();
        int revision = features.Revision;
        features[typeof(IConnectionHeartbeatFeature)] = heartbeat;
        features[typeof(IConnectionCompleteFeature)] = complete;
        Assert.Equal(revision + 2, features.Revision);
        Assert.Same(heartbeat, features[typeof(IConnectionHeartbeatFeature)]);
        Assert.Same(complete, features[typeof(IConnectionCompleteFeature)]);
        Assert.Equal(Known.Length + 2, features.Count());

        var again = new object();
        features[typeof(IConnectionHeartbeatFeature)] = again;
        Assert.Same(again, features[typeof(IConnectionHeartbeatFeature)]);
        Assert.Single(features, pair => pair.Key == typeof(IConnectionHeartbeatFeature));

        features[typeof(IConnectionHeartbeatFeature)] = null;
        Assert.Null(features[typeof(IConnectionHeartbeatFeature)]);
        Assert.Same(complete, features[typeof(IConnectionCompleteFeature)]);
        Assert.Equal(Known.Length + 1, features.Count());

        // Removing what is not there changes nothing, the revision included, as in FeatureCollection; removing a
        // known feature twice counts once.
        revision = features.Revision;
        features[typeof(IConnectionHeartbeatFeature)] = null;
        Assert.Equal(revision, features.Revision);
        Assert.Equal(Known.Length + 1, features.Count());
        features[typeof(IConnectionSocketFeature)] = null;
        features[typeof(IConnectionSocketFeature)] = null;
        Assert.Equal(revision + 1, features.Revision);

        // The same contract, side by side with FeatureCollection itself.
        var reference = new FeatureCollection();
        int before = reference.Revision;
        reference[typeof(IConnectionHeartbeatFeature)] = null;
        Assert.Equal(before, reference.Revision);
        reference[typeof(IConnectionHeartbeatFeature)] = heartbeat;
        reference[typeof(IConnectionHeartbeatFeature)] = heartbeat;
        Assert.Equal(before + 2, reference.Revision);
        revision = features.Revision;
        features[typeof(IConnectionHeartbeatFeature)] = heartbeat;
        features[typeof(IConnectionHeartbeatFeature)] = heartbeat;
        Assert.Equal(revision + 2, features.Revision);
    }

    [Fact]
    public void Typed_get_and_set_are_the_indexer()
    {
        var features = new AioConnectionFeatures(new object());
        var lifetime = new TestLifetime();
        features.Set<IConnectionLifetimeFeature>(lifetime);
        Assert.Same(lifetime, features.Get<IConnectionLifetimeFeature>());
        Assert.Same(lifetime, features[typeof(IConnectionLifetimeFeature)]);
        features.Set<IConnectionLifetimeFeature>(null);
        Assert.Null(features.Get<IConnectionLifetimeFeature>());
    }

    private sealed class TestLifetime : IConnectionLifetimeFeature
    {
        public CancellationToken ConnectionClosed { get; set; }

        public void Abort()
        {
        }
    }
}

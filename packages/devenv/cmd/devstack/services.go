package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/rookery-chat/rookery/packages/devenv"
)

// services are the backing services of a run; nil fields were given from
// outside and are not ours to stop.
type services struct {
	pg        *devenv.Postgres
	redis     *devenv.Redis
	cluster   *devenv.RedisCluster
	kafka     *devenv.Kafka
	dbURL     string
	redisURL  string
	redisMode string // "single" or "cluster" (REDIS_MODE)
	brokers   string
}

type serviceOptions struct {
	dir                          string // data directory root
	persistent                   bool   // keep data across runs (dev) or throw it away (test)
	pgPort, redisPort, kafkaPort int
	dbName                       string
	browser                      bool // also make sure Chromium is installed
}

// startServices starts PostgreSQL, Redis and Kafka, except those given by
// DATABASE_URL, REDIS_URL and KAFKA_BROKERS.
func startServices(ctx context.Context, log *slog.Logger, o serviceOptions) (s *services, err error) {
	s = &services{dbURL: os.Getenv("DATABASE_URL"), redisURL: os.Getenv("REDIS_URL"), brokers: os.Getenv("KAFKA_BROKERS"),
		redisMode: cmp.Or(os.Getenv("REDIS_MODE"), "single")}
	defer func() {
		if err != nil {
			s.stop(log)
		}
	}()
	if s.dbURL == "" || s.redisURL == "" || o.browser {
		if err := devenv.EnsureServers(ctx, os.Stderr, o.browser); err != nil {
			return s, err
		}
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return s, err
	}
	_ = os.Chmod(o.dir, 0o755) // PostgreSQL, running as its own user, must reach its directory
	if s.dbURL == "" {
		s.pg, err = devenv.StartPostgres(ctx, filepath.Join(o.dir, "postgres"), o.pgPort, devenv.PostgresOptions{Fast: !o.persistent})
		if err != nil {
			return s, err
		}
		if err := s.pg.CreateDatabase(ctx, o.dbName); err != nil {
			return s, fmt.Errorf("create database: %w", err)
		}
		s.dbURL = s.pg.URL(o.dbName)
		log.Info("postgres ready", "url", s.dbURL, "pid", s.pg.PID())
	}
	if s.redisURL == "" && s.redisMode == "cluster" {
		ports, err := devenv.FreePorts(4 * 3)
		if err != nil {
			return s, err
		}
		s.cluster, err = devenv.StartRedisCluster(ctx, filepath.Join(o.dir, "redis-cluster"), ports, 3, nil)
		if err != nil {
			return s, err
		}
		s.redisURL = s.cluster.URL()
		log.Info("redis cluster ready", "url", s.redisURL)
	}
	if s.redisURL == "" {
		rdir := filepath.Join(o.dir, "redis")
		if err := os.MkdirAll(rdir, 0o755); err != nil {
			return s, err
		}
		s.redis, err = devenv.StartRedis(ctx, rdir, o.redisPort, devenv.RedisOptions{Persist: o.persistent})
		if err != nil {
			return s, err
		}
		s.redisURL = s.redis.URL()
		log.Info("redis ready", "url", s.redisURL, "pid", s.redis.PID())
	}
	if s.brokers == "" {
		ko := devenv.KafkaOptions{Port: o.kafkaPort, Partitions: 8}
		if o.persistent {
			ko.DataDir = filepath.Join(o.dir, "kafka")
		}
		s.kafka, err = devenv.StartKafka(ko)
		if err != nil {
			return s, err
		}
		s.brokers = s.kafka.Brokers()
		log.Info("kafka (kfake) ready", "brokers", s.brokers)
	}
	return s, nil
}

// stop stops what we started, in reverse order of dependency.
func (s *services) stop(log *slog.Logger) {
	if s.kafka != nil {
		s.kafka.Close()
		s.kafka = nil
	}
	if s.cluster != nil {
		s.cluster.Kill()
		s.cluster = nil
	}
	if s.redis != nil {
		if err := s.redis.Shutdown(); err != nil {
			log.Warn("redis stop", "err", err)
		}
		s.redis = nil
	}
	if s.pg != nil {
		if err := s.pg.Shutdown(); err != nil {
			log.Warn("postgres stop", "err", err)
		}
		s.pg = nil
	}
}

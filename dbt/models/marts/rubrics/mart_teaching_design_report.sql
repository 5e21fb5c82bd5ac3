-- Report 4: the teaching-design rubric report 基于量规评分的教学设计能力分析报告 (matrix and radar data).
{{ config(materialized='view') }}

select * from {{ ref('mart_rubric_report') }}
where rubric_kind = 'teaching_design'

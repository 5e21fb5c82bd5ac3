-- Report 5: the classroom-teaching rubric report 基于量规评分的课堂教学能力分析报告 (matrix and radar data).
{{ config(materialized='view') }}

select * from {{ ref('mart_rubric_report') }}
where rubric_kind = 'classroom_teaching'
